//! `crate = "..."` on a handler inside `#[ws_app]`: the app's setting applies to every handler,
//! so the handler's own is refused rather than silently ignored.
use lift_reexport::prelude::*;

#[ws_app]
mod chat {
    use lift_reexport::prelude::*;

    #[ws_route("ping", reply, crate = "lift_reexport")]
    async fn ping() -> WsResult<Reply> {
        Ok(Reply::text("pong"))
    }
}

fn main() {
    let _ = chat::router();
}
