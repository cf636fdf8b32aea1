use lift_runtime::prelude::*;

#[ws_route("ping")]
async fn ping(ctx: &WsContext, again: &WsContext) -> WsResult {
    let _ = (ctx, again);
    Ok(())
}

fn main() {}
