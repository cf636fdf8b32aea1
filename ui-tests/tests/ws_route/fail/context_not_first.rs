use lift_runtime::prelude::*;

#[ws_route("ping")]
async fn ping(body: String, ctx: &WsContext) -> WsResult {
    let _ = (body, ctx);
    Ok(())
}

fn main() {}
