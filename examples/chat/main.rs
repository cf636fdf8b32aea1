//! A chat room on API Gateway WebSockets. Run it locally with `cargo run --example chat`, then
//! open http://127.0.0.1:3001 in a browser (or connect to ws://127.0.0.1:3001/?name=NAME).

mod app;

use lift_runtime::local::LocalConfig;
use lift_runtime::App;

#[tokio::main]
async fn main() -> Result<(), lift_runtime::Error> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,lift_runtime=debug".into()),
        )
        .init();
    App::new(app::chat::router())
        .local(LocalConfig::default().page(include_str!("index.html")))
        .run()
        .await
}
