use lift_runtime::prelude::*;

#[ws_route("$ping")]
async fn ping(_ctx: &WsContext) -> WsResult {
    Ok(())
}

fn main() {}
