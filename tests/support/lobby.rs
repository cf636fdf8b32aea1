//! An app of one room everyone joins, for the trace tests (`tests/trace.rs`, `tests/otlp.rs`):
//! a broadcast to it from the Lambda path, its log line and its fan-out.

/// Everyone joins `lobby` as they connect; `shout` says the body to it.
#[lift_runtime::ws_app]
#[allow(clippy::module_inception)]
pub mod lobby {
    use lift_runtime::prelude::*;

    /// Joins the lobby.
    #[ws_connect]
    pub async fn connect(ctx: &mut WsContext) -> WsResult {
        ctx.join("lobby").await?;
        Ok(())
    }

    /// Says `text` to the lobby (and logs a line of the app's own).
    #[ws_route("shout")]
    pub async fn shout(ctx: &WsContext, text: String) -> WsResult {
        tracing::info!("shouting");
        ctx.room("lobby").broadcast(&text).await?;
        Ok(())
    }
}
