use lift_runtime::prelude::*;

#[ws_route("count", reply)]
async fn count(_ctx: &WsContext) -> WsResult<u32> {
    Ok(1)
}

fn main() {}
