use lift_runtime::prelude::*;

#[ws_disconnect]
async fn disconnect(ctx: &WsContext) -> WsResult {
    let _code = ctx.event().request_context.disconnect_status_code;
    Ok(())
}

fn main() {
    let _ = disconnect;
}
