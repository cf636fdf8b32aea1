//! Who is online, and direct messages to a user's every device: an app whose handlers live in
//! two files, assembled with `ws_routes!` (`app.rs`).
//!
//! `cargo run --example presence`, then connect to ws://127.0.0.1:3001/?user=NAME and send
//! `{"action":"hello"}` (see README.md).

mod app;

#[tokio::main]
async fn main() -> Result<(), lift_runtime::Error> {
    let app = lift_runtime::App::new(app::router());
    // `template`, `asyncapi` and `typescript` print the deployment documents and the client.
    if lift_runtime::deploy::print_if_asked(&app)? {
        return Ok(());
    }
    app.run().await
}
