//! `lift-runtime` re-exported by another crate: `crate = "lift_reexport"` points the macros at it.
use lift_reexport::prelude::*;

#[ws_app(crate = "lift_reexport")]
mod chat {
    use lift_reexport::prelude::*;

    #[ws_route("ping", reply)]
    async fn ping() -> WsResult<Reply> {
        Ok(Reply::text("pong"))
    }
}

#[ws_route("standalone", crate = "lift_reexport")]
async fn standalone(_ctx: &WsContext) -> WsResult {
    Ok(())
}

fn main() {
    assert_eq!(format!("{:?}", chat::router()), r#"Router ["ping (reply)"]"#);
    let router = ws_routes![crate = "lift_reexport"; standalone];
    assert_eq!(format!("{router:?}"), r#"Router ["standalone"]"#);
}
