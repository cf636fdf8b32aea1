use lift_runtime::prelude::*;

async fn ping(_ctx: &WsContext) -> WsResult {
    Ok(())
}

fn main() {
    let _router = ws_routes![ping];
}
