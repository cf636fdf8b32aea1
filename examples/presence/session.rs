//! Opening and closing connections.

use lift_runtime::prelude::*;
use schemars::JsonSchema;
use serde::Serialize;

use super::messages::{name_of, ONLINE};

/// `ws://HOST/?user=NAME`: a name of 1 to 32 letters, digits, `-` or `_`, else 400. A user may
/// connect from several devices at once.
#[ws_connect]
pub async fn connect(ctx: &mut WsContext) -> WsResult {
    let user = ctx.query("user").unwrap_or_default().to_owned();
    let valid = (1..=32).contains(&user.len())
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(WsError::bad_request(
            "connect with ?user=NAME (1 to 32 letters, digits, - or _)",
        ));
    }
    // Nothing can be sent to this connection until `$connect` has returned (API Gateway
    // answers 410): the client says `hello` next, and is announced then.
    ctx.set_user(user);
    Ok(())
}

/// What those online get when a user's last device goes: `{"type":"offline","user":"NAME"}`.
#[ws_push("offline")]
#[derive(Serialize, JsonSchema)]
pub struct Offline {
    /// Who went offline.
    pub user: String,
}

/// The last connection of a user going away announces them offline to everyone online.
#[ws_disconnect]
pub async fn disconnect(ctx: &WsContext) -> WsResult {
    let user = name_of(ctx).await?;
    // The runtime removes this connection after this handler: it is still among the user's.
    let others = ctx
        .user_connections(&user)
        .await?
        .into_iter()
        .filter(|conn| conn.id != ctx.connection_id())
        .count();
    if others == 0 {
        ctx.room(ONLINE)
            .except(ctx.connection_id())
            .broadcast(&Offline { user })
            .await?;
    }
    Ok(())
}
