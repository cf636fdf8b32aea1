use lift_runtime::prelude::*;

#[ws_middleware]
fn log(_ctx: &mut WsContext, _next: Next<'_>) -> WsResult<Option<Reply>> {
    Ok(None)
}

fn main() {}
