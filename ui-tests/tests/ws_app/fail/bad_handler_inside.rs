use lift_runtime::prelude::*;

#[ws_app]
mod chat {
    use lift_runtime::prelude::*;

    #[ws_route("ping")]
    fn ping(_ctx: &WsContext) -> WsResult {
        Ok(())
    }

    pub fn still_callable() {
        let _ = ping;
    }
}

fn main() {
    chat::still_callable();
}
