//! An app with one big room, for the fan-out tests.

/// An app with one big room: every connection joins it, `shout` broadcasts to it and replies
/// with the broadcast's report.
#[lift_runtime::ws_app]
pub mod big_room {
    use lift_runtime::prelude::*;
    use serde_json::json;

    #[ws_connect]
    async fn connect(ctx: &mut WsContext) -> WsResult {
        ctx.join("big").await?;
        Ok(())
    }

    #[ws_route("shout", reply)]
    async fn shout(ctx: &WsContext, body: String) -> WsResult<Json<serde_json::Value>> {
        let report = ctx
            .room("big")
            .except(ctx.connection_id())
            .broadcast(&body)
            .await?;
        Ok(Json(json!({
            "sent": report.sent,
            "gone": report.gone.len(),
            "queued": report.queued,
            "queued_rest": report.queued_rest,
        })))
    }
}
