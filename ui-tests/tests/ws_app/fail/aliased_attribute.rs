// An alias imported outside the app module: `#[ws_app]` cannot tell `route` is `ws_route`.
use lift_runtime::prelude::*;
use lift_runtime::ws_route as route;

#[ws_app]
mod chat {
    use super::*;

    #[ws_route("a")]
    async fn a(_ctx: &WsContext) -> WsResult {
        Ok(())
    }

    #[route("b")]
    async fn b(_ctx: &WsContext) -> WsResult {
        Ok(())
    }

    pub fn helper() {}
}

fn main() {
    chat::helper();
    let _app = lift_runtime::App::new(chat::router());
}
