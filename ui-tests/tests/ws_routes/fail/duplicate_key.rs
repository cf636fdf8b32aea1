use lift_runtime::prelude::*;

mod a {
    use lift_runtime::prelude::*;

    #[ws_route("join")]
    pub async fn join(_ctx: &WsContext) -> WsResult {
        Ok(())
    }
}

mod b {
    use lift_runtime::prelude::*;

    #[ws_route("join")]
    pub async fn join(_ctx: &WsContext) -> WsResult {
        Ok(())
    }
}

fn main() {
    let _router = ws_routes![a::join, b::join];
}
