use lift_runtime::prelude::*;

struct Chat;

impl Chat {
    #[ws_route("ping")]
    async fn ping(&self, _ctx: &WsContext) -> WsResult {
        Ok(())
    }
}

fn main() {}
