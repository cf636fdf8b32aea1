use lift_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
pub struct Say {
    pub text: String,
}

#[derive(Serialize)]
pub struct Echo {
    pub text: String,
}

#[ws_app]
mod chat {
    use super::*;

    #[ws_connect]
    async fn connect(ctx: &mut WsContext) -> WsResult {
        ctx.set_user("someone");
        Ok(())
    }

    #[ws_disconnect]
    async fn disconnect(_ctx: &WsContext) -> WsResult {
        Ok(())
    }

    #[ws_default]
    async fn fallback(_ctx: &WsContext, _body: String) -> WsResult {
        Err(WsError::bad_request("unknown action"))
    }

    #[ws_route("say")]
    async fn say(ctx: &WsContext, Json(say): Json<Say>) -> WsResult {
        ctx.reply(&say.text).await?;
        Ok(())
    }

    #[ws_route("echo", reply)]
    async fn echo(Json(say): Json<Say>) -> WsResult<Json<Echo>> {
        Ok(Json(Echo { text: say.text }))
    }

    // Helpers without attributes are left alone.
    fn helper() -> u32 {
        7
    }

    pub fn uses_helper() -> u32 {
        helper()
    }
}

fn main() {
    let router = chat::router();
    assert_eq!(
        format!("{router:?}"),
        r#"Router ["$connect", "$disconnect", "$default", "say", "echo (reply)"]"#
    );
    assert_eq!(chat::uses_helper(), 7);
}
