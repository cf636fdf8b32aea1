use lift_runtime::prelude::*;

#[ws_app]
mod chat {
    use lift_runtime::prelude::*;

    #[ws_default]
    async fn fallback(_ctx: &WsContext) -> WsResult {
        Ok(())
    }

    #[ws_default]
    async fn other_fallback(_ctx: &WsContext) -> WsResult {
        Ok(())
    }
}

fn main() {
    let _app = lift_runtime::App::new(chat::router());
}
