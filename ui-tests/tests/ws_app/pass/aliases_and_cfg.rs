// Handlers `#[ws_app]` routes however they are marked: under an alias imported in the module,
// and under `#[cfg]` (routed when compiled in, absent when compiled out).
use lift_runtime::prelude::*;

#[ws_app]
mod chat {
    use lift_runtime::prelude::*;
    use lift_runtime::ws_route as route;

    #[route("aliased")]
    async fn aliased(_ctx: &WsContext) -> WsResult {
        Ok(())
    }

    #[cfg(all())]
    #[ws_route("compiled_in")]
    async fn compiled_in(_ctx: &WsContext) -> WsResult {
        Ok(())
    }

    #[cfg(any())]
    #[ws_route("compiled_out")]
    async fn compiled_out(_ctx: &WsContext) -> WsResult {
        Ok(())
    }

    // One key, two handlers under exclusive cfgs.
    #[cfg(debug_assertions)]
    #[ws_route("build")]
    async fn debug_build(_ctx: &WsContext) -> WsResult<Reply> {
        Ok(Reply::text("debug"))
    }

    #[cfg(not(debug_assertions))]
    #[ws_route("build")]
    async fn release_build(_ctx: &WsContext) -> WsResult<Reply> {
        Ok(Reply::text("release"))
    }

    pub fn helper() -> u8 {
        1
    }
}

fn main() {
    let router = chat::router();
    assert_eq!(
        format!("{router:?}"),
        r#"Router ["aliased", "compiled_in", "build"]"#
    );
    assert_eq!(chat::helper(), 1);
}
