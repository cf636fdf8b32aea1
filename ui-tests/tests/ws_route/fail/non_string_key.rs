use lift_runtime::prelude::*;

#[ws_route(42)]
async fn ping(_ctx: &WsContext) -> WsResult {
    Ok(())
}

fn main() {}
