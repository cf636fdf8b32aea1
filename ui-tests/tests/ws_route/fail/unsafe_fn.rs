use lift_runtime::prelude::*;

#[ws_route("ping")]
async unsafe fn ping(_ctx: &WsContext) -> WsResult {
    Ok(())
}

fn main() {}
