//! What clients send once connected.

use std::collections::BTreeSet;

use lift_runtime::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The room every greeted connection is in.
pub const ONLINE: &str = "online";

/// The answer to `hello`.
#[derive(Serialize, JsonSchema)]
pub struct Welcome {
    #[serde(rename = "type")]
    kind: &'static str,
    /// You.
    user: String,
    /// Everyone online, you included, sorted, once each however many devices they use.
    online: BTreeSet<String>,
}

/// What the others online get when a user's first device says hello:
/// `{"type":"online","user":"NAME"}`. `#[ws_push]` declares it (and `ws_routes!` in `app.rs`
/// lists it), so the AsyncAPI document and the TypeScript client describe it.
#[ws_push("online")]
#[derive(Serialize, JsonSchema)]
pub struct Online {
    /// Who came online.
    pub user: String,
}

/// A direct message, to every device of its recipient: `{"type":"dm","from":...,"text":...}`.
#[ws_push("dm")]
#[derive(Serialize, JsonSchema)]
pub struct DirectMessage {
    /// The sender.
    pub from: String,
    /// What they said.
    pub text: String,
}

/// `{"action":"hello"}`: joins the online room, announces the user to the others (on their
/// first device) and answers who is online.
#[ws_route("hello", reply)]
pub async fn hello(ctx: &WsContext) -> WsResult<Json<Welcome>> {
    let user = name_of(ctx).await?;
    let first_device = ctx
        .user_connections(&user)
        .await?
        .iter()
        .all(|conn| conn.id == ctx.connection_id() || !conn.rooms.contains(ONLINE));
    ctx.join(ONLINE).await?;
    if first_device {
        ctx.room(ONLINE)
            .except(ctx.connection_id())
            .broadcast(&Online { user: user.clone() })
            .await?;
    }
    let members = lift_runtime::store::collect(ctx.members(ONLINE)).await?;
    let online = members.into_iter().filter_map(|m| m.user).collect();
    Ok(Json(Welcome {
        kind: "welcome",
        user,
        online,
    }))
}

/// `{"action":"dm","to":"bob","text":"..."}`.
#[derive(Deserialize, JsonSchema)]
pub struct Dm {
    to: String,
    text: String,
}

/// Sends the text to every device of `to` (`{"type":"dm","from":...,"text":...}`); a user with
/// no open connection is the error `not_online` (404).
#[ws_route("dm")]
pub async fn dm(ctx: &WsContext, Json(dm): Json<Dm>) -> WsResult {
    let from = name_of(ctx).await?;
    let report = ctx
        .user(&dm.to)
        .send(&DirectMessage {
            from,
            text: dm.text,
        })
        .await?;
    if report.sent == 0 {
        return Err(WsError::new(
            404,
            "not_online",
            format!("{} is not online", dm.to),
        ));
    }
    Ok(())
}

/// The caller's user name, saved at `$connect`.
pub async fn name_of(ctx: &WsContext) -> WsResult<String> {
    ctx.connection()
        .await?
        .and_then(|conn| conn.user.clone())
        .ok_or_else(|| WsError::internal("this connection is not registered"))
}
