use lift_runtime::prelude::*;

#[ws_app]
mod chat {
    use lift_runtime::prelude::*;

    #[ws_connect]
    async fn connect(_ctx: &mut WsContext) -> WsResult {
        Ok(())
    }

    #[ws_connect]
    async fn connect_too(_ctx: &mut WsContext) -> WsResult {
        Ok(())
    }
}

fn main() {
    let _app = lift_runtime::App::new(chat::router());
}
