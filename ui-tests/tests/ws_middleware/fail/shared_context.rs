use lift_runtime::prelude::*;

#[ws_middleware]
async fn log(_ctx: &WsContext, _next: Next<'_>) -> WsResult<Option<Reply>> {
    Ok(None)
}

fn main() {}
