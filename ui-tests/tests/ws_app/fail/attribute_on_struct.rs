use lift_runtime::prelude::*;

#[ws_app]
mod chat {
    use lift_runtime::prelude::*;

    #[ws_route("ping")]
    pub struct Ping;

    #[ws_route("pong")]
    async fn pong(_ctx: &WsContext) -> WsResult {
        Ok(())
    }
}

fn main() {}
