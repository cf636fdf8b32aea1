use lift_runtime::prelude::*;

#[ws_app]
mod chat {
    use lift_runtime::prelude::*;

    #[ws_route("ping")]
    #[ws_route("pong")]
    async fn ping(_ctx: &WsContext) -> WsResult {
        Ok(())
    }
}

fn main() {
    let _app = lift_runtime::App::new(chat::router());
}
