use lift_runtime::prelude::*;

#[ws_route("ping", "pong")]
async fn ping(_ctx: &WsContext) -> WsResult {
    Ok(())
}

fn main() {}
