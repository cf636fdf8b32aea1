use lift_runtime::prelude::*;

#[ws_connect]
pub async fn connect(ctx: &mut WsContext) -> WsResult {
    ctx.set_user("guest");
    Ok(())
}

#[ws_default]
pub async fn fallback(_ctx: &WsContext) -> WsResult {
    Err(WsError::bad_request("unknown action"))
}
