use lift_runtime::prelude::*;

#[derive(serde::Deserialize)]
struct Ping {
    _n: u32,
}

#[ws_route("ping")]
async fn ping(_ctx: &WsContext, Json(_ping): Json<Ping>, _raw: String) -> WsResult {
    Ok(())
}

fn main() {}
