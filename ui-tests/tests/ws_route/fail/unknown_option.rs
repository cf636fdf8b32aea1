use lift_runtime::prelude::*;

#[ws_route("ping", replay)]
async fn ping(_ctx: &WsContext) -> WsResult {
    Ok(())
}

fn main() {}
