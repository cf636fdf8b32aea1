use lift_runtime::prelude::*;

#[ws_route("ping")]
fn ping(_ctx: &WsContext) -> WsResult {
    Ok(())
}

fn main() {}
