use lift_runtime::prelude::*;

#[ws_connect(reply)]
async fn connect(_ctx: &mut WsContext) -> WsResult {
    Ok(())
}

fn main() {}
