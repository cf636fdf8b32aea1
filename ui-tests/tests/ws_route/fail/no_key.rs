use lift_runtime::prelude::*;

#[ws_route]
async fn ping(_ctx: &WsContext) -> WsResult {
    Ok(())
}

fn main() {}
