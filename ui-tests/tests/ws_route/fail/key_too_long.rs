use lift_runtime::prelude::*;

#[ws_route("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
async fn ping(_ctx: &WsContext) -> WsResult {
    Ok(())
}

fn main() {}
