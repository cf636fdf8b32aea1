//! {{project_name}}: an API Gateway WebSocket API on AWS Lambda, made with Lift for Rust.
//!
//! `cargo run` serves it on the local emulator (ws://127.0.0.1:3001/?name=ana); in Lambda the
//! same binary runs on the Lambda runtime. `cargo run -- template` prints its AWS SAM template,
//! `cargo run -- typescript` its TypeScript client.

mod app;

#[tokio::main]
async fn main() -> Result<(), lift_runtime::Error> {
    let app = lift_runtime::App::new(app::app::router());
    if lift_runtime::deploy::print_if_asked(&app)? {
        return Ok(());
    }
    app.run().await
}
