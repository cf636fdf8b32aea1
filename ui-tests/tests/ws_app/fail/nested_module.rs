use lift_runtime::prelude::*;

#[ws_app]
mod chat {
    use lift_runtime::prelude::*;

    #[ws_route("a")]
    async fn a(_ctx: &WsContext) -> WsResult {
        Ok(())
    }

    mod more {
        use lift_runtime::prelude::*;

        #[ws_route("b")]
        pub async fn b(_ctx: &WsContext) -> WsResult {
            Ok(())
        }
    }
}

fn main() {
    let _app = lift_runtime::App::new(chat::router());
}
