use lift_runtime::prelude::*;

#[derive(serde::Deserialize)]
pub struct Join {
    pub room: String,
}

#[ws_route("join", reply)]
pub async fn join(_ctx: &WsContext, Json(join): Json<Join>) -> WsResult<Reply> {
    Ok(Reply::text(join.room))
}

#[ws_route("leave")]
pub async fn leave(_ctx: &WsContext) -> WsResult {
    Ok(())
}
