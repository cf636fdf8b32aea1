use lift_runtime::prelude::*;

#[ws_connect]
async fn connect(ctx: &mut WsContext) -> WsResult {
    let user = ctx
        .query("token")
        .ok_or_else(|| WsError::unauthorized("missing token"))?
        .to_owned();
    ctx.set_user(user);
    Ok(())
}

fn main() {
    let _ = connect;
}
