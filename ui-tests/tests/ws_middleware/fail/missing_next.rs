use lift_runtime::prelude::*;

#[ws_middleware]
async fn log(_ctx: &mut WsContext) -> WsResult {
    Ok(())
}

fn main() {}
