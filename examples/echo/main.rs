//! The smallest Lift app: every message comes back to its sender.
//!
//! `cargo run --example echo`, then send any text to ws://127.0.0.1:3001.

use lift_runtime::prelude::*;

#[ws_app]
mod echo {
    use lift_runtime::prelude::*;

    /// Every message (no route key matches, so all go to `$default`) is echoed back.
    #[ws_default(reply)]
    async fn echo(body: String) -> WsResult<Reply> {
        Ok(Reply::text(body))
    }
}

#[tokio::main]
async fn main() -> Result<(), lift_runtime::Error> {
    let app = lift_runtime::App::new(echo::router());
    // `template`, `asyncapi` and `typescript` print the deployment documents and the client.
    if lift_runtime::deploy::print_if_asked(&app)? {
        return Ok(());
    }
    app.run().await
}
