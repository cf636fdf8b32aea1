// Pushed frames: tagged with their "type" by the macro, borrowed fields and `#[cfg]` allowed,
// sent like any value.
use lift_runtime::prelude::*;

#[ws_app]
mod chat {
    use lift_runtime::prelude::*;
    use serde::Serialize;

    /// A message: `{"type":"message","from":...,"text":...}`.
    #[ws_push("message")]
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Message<'a> {
        pub from_name: &'a str,
        pub text: &'a str,
    }

    #[cfg(all())]
    #[ws_push("typing")]
    #[derive(Debug, serde::Serialize)]
    pub struct Typing {
        pub user: String,
    }

    #[cfg(any())]
    #[ws_push("typing")]
    #[derive(Debug, serde::Serialize)]
    pub struct TypingOff {
        pub user: String,
    }

    #[ws_route("say")]
    async fn say(ctx: &WsContext, text: String) -> WsResult {
        let message = Message { from_name: "ana", text: &text };
        ctx.send(ctx.connection_id(), &message).await?;
        Ok(())
    }
}

fn main() {
    let text = serde_json::to_string(&chat::Message { from_name: "ana", text: "hi" }).unwrap();
    assert_eq!(text, r#"{"type":"message","fromName":"ana","text":"hi"}"#);
    let typing = serde_json::to_string(&chat::Typing { user: "bob".into() }).unwrap();
    assert_eq!(typing, r#"{"type":"typing","user":"bob"}"#);
    let _ = chat::router();
}
