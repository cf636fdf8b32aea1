use lift_runtime::prelude::*;

#[ws_disconnect(cleanup)]
async fn disconnect(_ctx: &WsContext) -> WsResult {
    Ok(())
}

fn main() {}
