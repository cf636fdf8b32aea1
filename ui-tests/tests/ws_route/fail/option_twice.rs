use lift_runtime::prelude::*;

#[ws_route("ping", reply, reply)]
async fn ping(_ctx: &WsContext) -> WsResult<Reply> {
    Ok(Reply::text("pong"))
}

fn main() {}
