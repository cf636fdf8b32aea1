use lift_runtime::prelude::*;

#[ws_route("ping")]
async fn ping<T: serde::de::DeserializeOwned>(_ctx: &WsContext, _body: Json<T>) -> WsResult {
    Ok(())
}

fn main() {}
