use lift_runtime::prelude::*;

#[ws_route("count")]
async fn count(_ctx: &WsContext, n: u32) -> WsResult {
    let _ = n;
    Ok(())
}

fn main() {}
