//! The chat app: its protocol and handlers. `main.rs` runs it; the tests drive it too.

use lift_runtime::prelude::*;
use serde::{Deserialize, Serialize};

/// `{"action":"sendMessage","text":"..."}`
#[derive(Deserialize)]
pub struct SendMessage {
    pub text: String,
}

/// What every connection receives: `{"type":"message","from":"NAME","text":"..."}`.
#[derive(Serialize)]
#[serde(tag = "type", rename = "message")]
pub struct ChatMessage<'a> {
    pub from: &'a str,
    pub text: &'a str,
}

/// The answer to `{"action":"whoami"}`.
#[derive(Serialize)]
#[serde(tag = "type", rename = "whoami")]
pub struct WhoAmI {
    pub name: String,
    #[serde(rename = "connectionId")]
    pub connection_id: String,
}

#[ws_app]
pub mod chat {
    use super::*;

    /// `ws://HOST/?name=NAME`: refuses the handshake (400) without a name.
    #[ws_connect]
    pub async fn connect(ctx: &mut WsContext) -> WsResult {
        let name = ctx.query("name").map(str::trim).unwrap_or_default();
        if name.is_empty() {
            return Err(WsError::bad_request("connect with ?name=YOUR_NAME"));
        }
        if name.len() > 64 {
            return Err(WsError::bad_request("the name is longer than 64 bytes"));
        }
        let name = name.to_owned();
        ctx.set_user(name);
        Ok(())
    }

    /// Sends the message to every open connection, the sender included.
    #[ws_route("sendMessage")]
    pub async fn send_message(ctx: &WsContext, Json(msg): Json<SendMessage>) -> WsResult {
        let name = name_of(ctx).await?;
        let message = ChatMessage {
            from: &name,
            text: &msg.text,
        };
        let everyone = ctx.store().list().await?;
        let sends = everyone.iter().map(|conn| ctx.send(&conn.id, &message));
        for (conn, result) in everyone
            .iter()
            .zip(futures_util::future::join_all(sends).await)
        {
            if let Err(err) = result {
                // A connection closing right now answers 410; its $disconnect removes it.
                tracing::debug!(connection_id = %conn.id, error = %err, "message not delivered");
            }
        }
        Ok(())
    }

    /// Two-way route: the reply is this connection's name and id.
    #[ws_route("whoami", reply)]
    pub async fn whoami(ctx: &WsContext) -> WsResult<Json<WhoAmI>> {
        Ok(Json(WhoAmI {
            name: name_of(ctx).await?,
            connection_id: ctx.connection_id().to_owned(),
        }))
    }

    async fn name_of(ctx: &WsContext) -> WsResult<String> {
        let conn = ctx.connection().await?;
        conn.and_then(|conn| conn.user.clone())
            .ok_or_else(|| WsError::internal("this connection is not registered"))
    }
}
