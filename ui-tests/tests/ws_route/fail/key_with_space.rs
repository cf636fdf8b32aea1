use lift_runtime::prelude::*;

#[ws_route("send message")]
async fn send(_ctx: &WsContext) -> WsResult {
    Ok(())
}

fn main() {}
