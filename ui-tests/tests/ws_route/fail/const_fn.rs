use lift_runtime::prelude::*;

#[ws_route("ping")]
const fn ping(_ctx: &WsContext) -> WsResult {
    Ok(())
}

fn main() {}
