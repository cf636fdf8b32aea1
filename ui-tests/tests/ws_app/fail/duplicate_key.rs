use lift_runtime::prelude::*;

#[ws_app]
mod chat {
    use lift_runtime::prelude::*;

    #[ws_route("join")]
    async fn join(_ctx: &WsContext) -> WsResult {
        Ok(())
    }

    #[ws_route("join")]
    async fn join_again(_ctx: &WsContext) -> WsResult {
        Ok(())
    }
}

fn main() {
    let _app = lift_runtime::App::new(chat::router());
}
