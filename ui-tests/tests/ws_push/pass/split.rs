// Frames declared beside handlers in other modules, listed by `ws_routes!` after the handlers.
mod frames {
    use lift_runtime::prelude::*;
    use serde::Serialize;

    #[ws_push("online")]
    #[derive(Serialize)]
    pub struct Online {
        pub user: String,
    }

    #[ws_push("note")]
    #[derive(Serialize)]
    pub struct Note<'a> {
        pub text: &'a str,
    }

    #[ws_route("hello")]
    pub async fn hello(ctx: &WsContext) -> WsResult {
        ctx.send(ctx.connection_id(), &Online { user: "ana".into() }).await?;
        ctx.send(ctx.connection_id(), &Note { text: "hi" }).await?;
        Ok(())
    }
}

fn main() {
    let router = lift_runtime::ws_routes![frames::hello; push: frames::Online, frames::Note<'static>];
    let _ = router;
    let json = serde_json::to_string(&frames::Online { user: "bob".into() }).unwrap();
    assert_eq!(json, r#"{"type":"online","user":"bob"}"#);
}
