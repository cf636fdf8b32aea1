//! The chat app: its protocol and handlers. `main.rs` runs it; the tests drive it too.

use lift_runtime::prelude::*;
use lift_runtime::BroadcastReport;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

// The message types derive `JsonSchema` so `chat asyncapi` describes them.

/// `{"action":"sendMessage","text":"..."}`, or to a room: `{..., "room":"R"}`.
#[derive(Deserialize, JsonSchema)]
pub struct SendMessage {
    /// What to say.
    pub text: String,
    /// A room the sender has joined; everyone when absent.
    #[serde(default)]
    pub room: Option<String>,
}

/// `{"action":"join","room":"R"}` and `{"action":"leave","room":"R"}`.
#[derive(Deserialize, JsonSchema)]
pub struct RoomRequest {
    /// The room's name, 1 to 64 bytes.
    pub room: String,
}

/// The answer to `join` / `leave`: `{"type":"joined","room":"R"}` / `{"type":"left",...}`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RoomReply {
    /// `joined` or `left`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The room.
    pub room: String,
}

/// `{"action":"users"}`, or for a room: `{"action":"users","room":"R"}`.
#[derive(Deserialize, JsonSchema)]
pub struct UsersRequest {
    /// A room; everyone when absent.
    #[serde(default)]
    pub room: Option<String>,
}

/// The answer to `users`: `{"type":"users","room":"R","users":["ana","bob"]}` (no `room` for
/// everyone): who is there, each once, however many devices they are on. Kept up to date by the
/// `presence` frames (`{"type":"presence","room":R,"user":U,"state":"joined"|"left"}`) the chat
/// gets with presence on.
#[derive(Debug, Serialize, JsonSchema)]
pub struct UsersReply {
    /// `users`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The room; absent for everyone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// The users present, sorted.
    pub users: Vec<String>,
}

/// The room every connection joins at `$connect`: messages to everyone go to its members, read
/// page by page, instead of listing the whole store.
pub const EVERYONE: &str = "$everyone";

/// Room names are 1 to 64 bytes and do not start with `$` (reserved for the app's own rooms).
fn check_room(room: &str) -> WsResult {
    if room.is_empty() || room.len() > 64 {
        return Err(WsError::bad_request("a room name is 1 to 64 bytes"));
    }
    if room.starts_with('$') {
        return Err(WsError::bad_request(
            "room names starting with `$` are reserved",
        ));
    }
    Ok(())
}

/// The answer to `{"action":"whoami"}`, borrowed from the event and the caller's record.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(tag = "type", rename = "whoami")]
pub struct WhoAmI<'a> {
    /// The caller's name.
    pub name: &'a str,
    /// The caller's connection id.
    #[serde(rename = "connectionId")]
    pub connection_id: &'a str,
}

/// The chat's token check, from its settings (`var` reads one: the environment in `main.rs`):
/// `LIFT_JWT_SECRET` (HS256 tokens signed with it), else `LIFT_JWT_JWKS_URL` (the keys a provider
/// publishes, with `LIFT_JWT_ISSUER` required as `iss` when set), else `LIFT_JWT_ISSUER` alone
/// (an OpenID Connect issuer, its keys discovered); `LIFT_JWT_AUDIENCE` requires that `aud`.
/// None of them: no token check.
pub fn token_check(var: impl Fn(&str) -> Option<String>) -> Option<lift_runtime::auth::JwtAuth> {
    use lift_runtime::auth::JwtAuth;
    let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let issuer = var("LIFT_JWT_ISSUER");
    let auth = if let Some(secret) = var("LIFT_JWT_SECRET") {
        JwtAuth::hs256(secret.as_bytes())
    } else if let Some(url) = var("LIFT_JWT_JWKS_URL") {
        let auth = JwtAuth::jwks(&url);
        match &issuer {
            Some(issuer) => auth.issuer(issuer),
            None => auth,
        }
    } else {
        JwtAuth::oidc(issuer.as_deref()?)
    };
    Some(match var("LIFT_JWT_AUDIENCE") {
        Some(audience) => auth.audience(&audience),
        None => auth,
    })
}

#[ws_app]
pub mod chat {
    use super::*;

    /// What the recipients get: `{"type":"message","from":"NAME","text":"..."}`, with
    /// `"room":"R"` when it was sent to a room. `#[ws_push]` declares it: it is sent with
    /// `"type":"message"`, and the AsyncAPI document and the TypeScript client describe it.
    #[ws_push("message")]
    #[derive(Serialize, JsonSchema)]
    pub struct ChatMessage<'a> {
        /// The room it was sent to; absent when it was sent to everyone.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub room: Option<&'a str>,
        /// The sender's name.
        pub from: &'a str,
        /// What they said.
        pub text: &'a str,
    }

    /// `ws://HOST/?name=NAME`: refuses the handshake (400) without a name. When the app runs
    /// with JWT authentication (`LIFT_JWT_SECRET`), the name comes from the token's `name`
    /// claim, else its `sub`.
    #[ws_connect]
    pub async fn connect(ctx: &mut WsContext) -> WsResult {
        let name = match ctx.identity().await? {
            Some(claims) => ["name", "sub"]
                .iter()
                .find_map(|claim| claims.get(claim).and_then(|name| name.as_str()))
                .map(str::to_owned)
                .ok_or_else(|| WsError::unauthorized("the token has no `name` or `sub` claim"))?,
            None => ctx
                .query("name")
                .map(str::trim)
                .unwrap_or_default()
                .to_owned(),
        };
        if name.is_empty() {
            return Err(WsError::bad_request("connect with ?name=YOUR_NAME"));
        }
        if name.len() > 64 {
            return Err(WsError::bad_request("the name is longer than 64 bytes"));
        }
        ctx.set_user(name);
        // Joined once the connection is saved (nothing is stored before `$connect` succeeds).
        ctx.join(EVERYONE).await?;
        Ok(())
    }

    /// Sends the message to every open connection (the sender included), or to the members
    /// of `room`, which the sender must have joined.
    #[ws_route("sendMessage")]
    pub async fn send_message(ctx: &WsContext, Json(msg): Json<SendMessage>) -> WsResult {
        let name = name_of(ctx).await?;
        let message = ChatMessage {
            room: msg.room.as_deref(),
            from: name,
            text: &msg.text,
        };
        let Some(room) = msg.room.as_deref() else {
            report(ctx.room(EVERYONE).broadcast(&message).await?);
            return Ok(());
        };
        let joined = ctx
            .connection()
            .await?
            .is_some_and(|conn| conn.rooms.contains(room));
        if !joined {
            return Err(WsError::new(
                403,
                "not_in_room",
                format!("join the room first: {{\"action\":\"join\",\"room\":\"{room}\"}}"),
            ));
        }
        report(ctx.room(room).broadcast(&message).await?);
        Ok(())
    }

    /// Joins a room: `{"type":"joined","room":"R"}`.
    #[ws_route("join", reply)]
    pub async fn join(ctx: &WsContext, Json(req): Json<RoomRequest>) -> WsResult<Json<RoomReply>> {
        check_room(&req.room)?;
        ctx.join(&req.room).await?;
        Ok(Json(RoomReply {
            kind: "joined",
            room: req.room,
        }))
    }

    /// Leaves a room: `{"type":"left","room":"R"}`.
    #[ws_route("leave", reply)]
    pub async fn leave(ctx: &WsContext, Json(req): Json<RoomRequest>) -> WsResult<Json<RoomReply>> {
        check_room(&req.room)?;
        ctx.leave(&req.room).await?;
        Ok(Json(RoomReply {
            kind: "left",
            room: req.room,
        }))
    }

    /// Logs what a broadcast did. Connections that were gone are already removed from the
    /// store; the others are retried within the deadline before they count as failed.
    fn report(report: BroadcastReport) {
        for (id, err) in &report.failed {
            tracing::warn!(connection_id = %id, error = %err, "message not delivered");
        }
        tracing::debug!(
            sent = report.sent,
            gone = report.gone.len(),
            "message broadcast"
        );
    }

    /// Who is in a room (everyone when no room is named): `{"type":"users","users":[...]}`. With
    /// presence on ([`Settings::presence`](lift_runtime::Settings::presence)), as the chat runs.
    #[ws_route("users", reply)]
    pub async fn users(
        ctx: &WsContext,
        Json(req): Json<UsersRequest>,
    ) -> WsResult<Json<UsersReply>> {
        if let Some(room) = &req.room {
            check_room(room)?;
        }
        let room = req.room.as_deref().unwrap_or(EVERYONE);
        Ok(Json(UsersReply {
            kind: "users",
            users: ctx.room(room).users().await?,
            room: req.room,
        }))
    }

    /// Two-way route: the reply is this connection's name and id.
    #[ws_route("whoami", reply)]
    pub async fn whoami(ctx: &WsContext) -> WsResult<Json<WhoAmI<'_>>> {
        Ok(Json(WhoAmI {
            name: name_of(ctx).await?,
            connection_id: ctx.connection_id(),
        }))
    }

    /// The caller's name, from its stored record (read once per event).
    async fn name_of(ctx: &WsContext) -> WsResult<&str> {
        let conn = ctx.connection().await?;
        conn.and_then(|conn| conn.user.as_deref())
            .ok_or_else(|| WsError::internal("this connection is not registered"))
    }
}
