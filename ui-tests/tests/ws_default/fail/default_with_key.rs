use lift_runtime::prelude::*;

#[ws_default("fallback")]
async fn fallback(_ctx: &WsContext) -> WsResult {
    Ok(())
}

fn main() {}
