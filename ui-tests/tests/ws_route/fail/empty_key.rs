use lift_runtime::prelude::*;

#[ws_route("")]
async fn nothing(_ctx: &WsContext) -> WsResult {
    Ok(())
}

fn main() {}
