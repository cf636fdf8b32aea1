//! The app: who connects, the routes, what it pushes. `main.rs` runs it; the tests drive it.

use lift_runtime::prelude::*;
use serde::{Deserialize, Serialize};

/// The room every connection is in.
pub const EVERYONE: &str = "everyone";

/// `{"action":"echo","text":"..."}`, answered with the same.
#[derive(Debug, Deserialize, Serialize)]
pub struct Echo {
    /// Any text.
    pub text: String,
}

/// `{"action":"say","text":"..."}`: said to everyone.
#[derive(Debug, Deserialize)]
pub struct Say {
    /// What to say.
    pub text: String,
}

#[ws_app]
pub mod app {
    use super::*;

    /// What everyone gets when someone says something: `{"type":"said","from":"ana","text":"hi"}`.
    #[ws_push("said")]
    #[derive(Debug, Serialize)]
    pub struct Said {
        /// Who said it.
        pub from: String,
        /// What they said.
        pub text: String,
    }

    /// `ws://HOST/?name=NAME`: refused (400) without a name.
    #[ws_connect]
    pub async fn connect(ctx: &mut WsContext) -> WsResult {
        let name = ctx.query("name").map(str::trim).unwrap_or_default();
        if name.is_empty() || name.len() > 64 {
            return Err(WsError::bad_request("connect with ?name=YOUR_NAME (1 to 64 bytes)"));
        }
        let name = name.to_owned();
        ctx.set_user(name);
        ctx.join(EVERYONE).await?;
        Ok(())
    }

    /// Two-way: the reply is the message itself.
    #[ws_route("echo", reply)]
    pub async fn echo(Json(echo): Json<Echo>) -> WsResult<Json<Echo>> {
        Ok(Json(echo))
    }

    /// One-way: everyone (the sender too) gets `said`.
    #[ws_route("say")]
    pub async fn say(ctx: &WsContext, Json(say): Json<Say>) -> WsResult {
        let from = ctx
            .connection()
            .await?
            .and_then(|conn| conn.user.clone())
            .unwrap_or_default();
        ctx.room(EVERYONE)
            .broadcast(&Said { from, text: say.text })
            .await?;
        Ok(())
    }
}
