use lift_runtime::prelude::*;

#[ws_route("$connect")]
async fn connect(_ctx: &WsContext) -> WsResult {
    Ok(())
}

fn main() {}
