use lift_runtime::prelude::*;

#[ws_route("ping")]
async fn ping(ctx: WsContext) -> WsResult {
    let _ = ctx;
    Ok(())
}

fn main() {}
