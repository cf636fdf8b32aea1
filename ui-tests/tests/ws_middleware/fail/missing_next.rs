use lift_runtime::prelude::*;

#[ws_middleware]
async fn log(_ctx: &mut WsContext) -> WsResult<Option<Reply>> {
    Ok(None)
}

fn main() {}
