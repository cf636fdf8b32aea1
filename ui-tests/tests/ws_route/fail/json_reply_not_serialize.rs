use lift_runtime::prelude::*;

struct Pong {
    _n: u32,
}

#[ws_route("ping", reply)]
async fn ping(_ctx: &WsContext) -> WsResult<Json<Pong>> {
    Ok(Json(Pong { _n: 1 }))
}

fn main() {}
