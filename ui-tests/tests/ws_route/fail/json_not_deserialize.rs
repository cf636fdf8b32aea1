use lift_runtime::prelude::*;

struct Ping {
    _n: u32,
}

#[ws_route("ping")]
async fn ping(_ctx: &WsContext, Json(_ping): Json<Ping>) -> WsResult {
    Ok(())
}

fn main() {}
