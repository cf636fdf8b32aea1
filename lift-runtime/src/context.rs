//! [`WsContext`]: the event a handler serves, read-only, with the parts that act on it handed
//! in: the `$connect` write-back ([`connect`](crate::connect)), the outbound sends
//! ([`Outbound`]) and the store.

use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use serde::Serialize;

use crate::connect::Connecting;
use crate::error::{SendError, StoreError, WsError};
use crate::event::{Event, Fields};
use crate::outbound::{BroadcastReport, ConnectionInfo, Outbound, Room, SendTotals, User};
use crate::route_key::RouteKey;
use crate::store::{Connection, ConnectionStore, Member, Pages};

/// The context of one event. Its methods come in five groups, each documented once below:
///
/// - **the request**: `connection_id`, `route`, `query`, `header`, `body`, `event`,
///   `extensions`;
/// - **the caller's record**: `connection`, `identity` (what `$connect` saved; read from the
///   store at most once per event);
/// - **sending**: `reply`, `send`, `send_raw`, `broadcast`, `room(..).broadcast`,
///   `user(..).send`, `disconnect`, `info` (every Management API call);
/// - **rooms and users**: `join`, `leave`, `members`, `user_connections`;
/// - **`$connect`'s write-back**: `set_user`, `set_metadata`, `set_claims`,
///   `set_response_header`.
///
/// Handlers take it as their first parameter, `&WsContext` or `&mut WsContext` (the `$connect`
/// handler takes `&mut` to set the user and metadata that are stored with the connection).
pub struct WsContext {
    /// Boxed, as the record and `$connect`'s write-back below: a context lives in every
    /// event's future, which is moved whole (into its box, for one).
    event: Event,
    /// The event's route, resolved once by the service.
    route: RouteKey,
    request_id: String,
    store: Arc<dyn ConnectionStore>,
    /// The caller's stored record, read at most once per event.
    connection: OnceLock<Option<Box<Connection>>>,
    extensions: http::Extensions,
    /// `Some` on `$connect` only.
    connecting: Option<Box<Connecting>>,
    out: Outbound,
}

/// What the service hands a context besides the event.
pub(crate) struct ContextParts {
    pub route: RouteKey,
    pub request_id: String,
    pub store: Arc<dyn ConnectionStore>,
    pub out: Outbound,
}

impl WsContext {
    pub(crate) fn new(event: Event, parts: ContextParts) -> Self {
        let connecting = (parts.route == RouteKey::Connect).then(Box::default);
        WsContext {
            event,
            route: parts.route,
            request_id: parts.request_id,
            store: parts.store,
            connection: OnceLock::new(),
            extensions: http::Extensions::new(),
            connecting,
            out: parts.out,
        }
    }

    /// The `$connect` write-back, taken by the service once the handler has returned.
    pub(crate) fn take_connecting(&mut self) -> Option<Connecting> {
        self.connecting.take().map(|connecting| *connecting)
    }

    /// On `$connect`, who the connection will belong to (the user the handler set, else the
    /// token's subject).
    pub(crate) fn connecting_owner(&self) -> Option<String> {
        self.connecting.as_ref()?.owner()
    }

    /// On `$connect`: the record expires by `at` at the latest (a token's `exp`).
    #[cfg(feature = "jwt")]
    pub(crate) fn expire_by(&mut self, at: std::time::SystemTime) {
        if let Some(connecting) = self.connecting.as_mut() {
            connecting.expire_by(at);
        }
    }

    /// With presence: `connection` (just saved, or just deleted when `gone`) is in its rooms'
    /// presence, or no longer.
    pub(crate) async fn update_presence(&self, connection: &Connection, gone: bool) {
        let Some(user) = connection
            .user
            .as_deref()
            .filter(|_| self.out.keeps_presence())
        else {
            return;
        };
        for room in &connection.rooms {
            if gone {
                self.out.absent(room, user, &connection.id).await;
            } else {
                self.out
                    .present(room, user, &connection.id, connection.expires_at)
                    .await;
            }
        }
    }

    /// Whether the app keeps presence.
    pub(crate) fn keeps_presence(&self) -> bool {
        self.out.keeps_presence()
    }

    /// The connection store.
    pub(crate) fn store(&self) -> &dyn ConnectionStore {
        &*self.store
    }

    /// When this event's sends should stop: its deadline less the headroom.
    pub(crate) fn sends_cutoff(&self) -> std::time::Instant {
        self.out.cutoff()
    }

    /// What this event's sends did so far (for [`observe::Metrics`](crate::observe::Metrics)).
    pub(crate) fn send_totals(&self) -> SendTotals {
        self.out.totals()
    }
}

/// **The request**: who is calling, on which route, with what.
impl WsContext {
    /// The caller's connection id.
    pub fn connection_id(&self) -> &str {
        self.out.caller()
    }

    /// The route API Gateway selected (`$connect`, a message route such as `sendMessage`,
    /// `$default`...): compare it with [`RouteKey`]'s variants, or read it with
    /// [`as_str`](RouteKey::as_str).
    pub fn route(&self) -> &RouteKey {
        &self.route
    }

    /// The whole API Gateway event. A message is read only as far as the runtime needs
    /// (connection, route, endpoint, body, claims: what the other methods here return); the
    /// rest of it is read on the first call, once per event. Were a field the runtime does not
    /// read malformed (API Gateway sends them well-formed), it is left out, and logged.
    pub fn event(&self) -> &ApiGatewayWebsocketProxyRequest {
        self.event.event()
    }

    /// What the runtime reads of the event.
    pub(crate) fn fields(&self) -> &Fields {
        self.event.fields()
    }

    /// The message body as the event carries it (none on `$connect` and `$disconnect`).
    /// Handlers take it decoded as an argument instead: `String`, `Vec<u8>` (also decoded from
    /// base64 when the event says it is) or `Json<T>`.
    pub fn body(&self) -> Option<&str> {
        self.fields().body.as_deref()
    }

    /// Whether the event's body is base64 (`isBase64Encoded`), as when the integration converts
    /// a payload to binary (`contentHandlingStrategy: CONVERT_TO_BINARY`). Clients themselves
    /// can only send text frames: API Gateway closes the connection with 1003 on a binary one.
    pub(crate) fn is_base64_encoded(&self) -> bool {
        self.fields().is_base64_encoded
    }

    /// The message's bytes: the body decoded from base64 when the event says it is
    /// (`isBase64Encoded`, as when the integration converts a payload to binary), else the
    /// text's UTF-8 bytes. An `invalid_body` error when the event says base64 and the body is
    /// not. (Handlers take them as a `Vec<u8>` argument.)
    pub(crate) fn body_bytes(&self) -> Result<Vec<u8>, WsError> {
        use base64::Engine as _;
        let body = self.body().unwrap_or_default();
        if self.is_base64_encoded() {
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .map_err(|err| {
                    WsError::invalid_body(format!("the message is not valid base64: {err}"))
                })
        } else {
            Ok(body.as_bytes().to_vec())
        }
    }

    /// A query-string parameter of the `$connect` request.
    pub fn query(&self, name: &str) -> Option<&str> {
        // API Gateway sends both maps; events built by hand may have only the multi-valued one.
        let event = self.event();
        event
            .query_string_parameters
            .first(name)
            .or_else(|| event.multi_value_query_string_parameters.first(name))
    }

    /// A header of the `$connect` request (API Gateway passes headers on `$connect` and
    /// `$disconnect` only).
    pub fn header(&self, name: &str) -> Option<&str> {
        let event = self.event();
        let value = event.headers.get(name);
        let value = value.or_else(|| event.multi_value_headers.get(name));
        value.and_then(|v| v.to_str().ok())
    }

    /// When the connection was opened, from the event (now, if the event does not say).
    pub(crate) fn connected_at(&self) -> SystemTime {
        let millis = self.fields().connected_at.max(0) as u64;
        if millis == 0 {
            SystemTime::now()
        } else {
            SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(millis)
        }
    }

    /// Typed values attached to this event, e.g. by a middleware for the handler:
    ///
    /// ```
    /// use lift_runtime::prelude::*;
    ///
    /// #[derive(Clone)]
    /// struct Tenant(String);
    ///
    /// #[ws_middleware]
    /// async fn tenant(ctx: &mut WsContext, next: Next<'_>) -> WsResult<Option<Reply>> {
    ///     let tenant = ctx.header("x-tenant").unwrap_or("public").to_owned();
    ///     ctx.extensions_mut().insert(Tenant(tenant));
    ///     next.run(ctx).await
    /// }
    ///
    /// #[ws_route("whoami", reply)]
    /// async fn whoami(ctx: &WsContext) -> WsResult<Reply> {
    ///     let tenant = ctx.extensions().get::<Tenant>().map_or("none", |t| t.0.as_str());
    ///     Ok(Reply::text(tenant))
    /// }
    /// ```
    pub fn extensions(&self) -> &http::Extensions {
        &self.extensions
    }

    /// The typed values of this event, to attach one.
    pub fn extensions_mut(&mut self) -> &mut http::Extensions {
        &mut self.extensions
    }
}

/// **`$connect`'s write-back**: what the `$connect` handler (or a middleware on `$connect`) keeps
/// with the connection. The connection is saved with it after the handler returns `Ok`, before
/// the handshake completes; on any other route these calls do nothing but log a warning.
impl WsContext {
    fn connecting(&mut self, what: &str) -> Option<&mut Connecting> {
        if self.connecting.is_none() {
            tracing::warn!(
                route_key = %self.route,
                "`{what}` has an effect in the $connect handler only; ignored"
            );
        }
        self.connecting.as_deref_mut()
    }

    /// On `$connect`: the user this connection belongs to, saved with the connection.
    pub fn set_user(&mut self, user: impl Into<String>) {
        if let Some(connecting) = self.connecting("set_user") {
            connecting.set_user(user.into());
        }
    }

    /// On `$connect`: anything else to keep with the connection (claims, a display name...).
    pub fn set_metadata(&mut self, metadata: serde_json::Value) {
        if let Some(connecting) = self.connecting("set_metadata") {
            connecting.set_metadata(metadata);
        }
    }

    /// On `$connect`: the verified claims of the caller (set by an authentication middleware
    /// such as [`JwtAuth`](crate::auth::JwtAuth)). They are saved with the connection, under
    /// `claims` in its metadata.
    pub fn set_claims(&mut self, claims: serde_json::Value) {
        if let Some(connecting) = self.connecting("set_claims") {
            connecting.set_claims(claims);
        }
    }

    /// On `$connect`: a header of the response API Gateway answers the handshake with (for
    /// example the `Sec-WebSocket-Protocol` it must echo).
    pub fn set_response_header(&mut self, name: &'static str, value: impl Into<String>) {
        if let Some(connecting) = self.connecting("set_response_header") {
            connecting.set_response_header(name, value.into());
        }
    }
}

/// **The caller's record**: what `$connect` saved with the connection, read from the store at
/// most once per event, and only by events that ask.
impl WsContext {
    /// The caller's verified claims: those set during this `$connect`, else those the app's
    /// `$connect` authorizer verified (carried by every event of the connection: no store
    /// read; see [`Settings::authorizer`](crate::Settings::authorizer)), else the ones saved
    /// with the connection at `$connect` (read from the store at most once per event, with
    /// [`connection`](Self::connection)). `None` for connections that were not authenticated.
    pub async fn identity(&self) -> Result<Option<serde_json::Value>, StoreError> {
        if let Some(claims) = self.connecting.as_deref().and_then(Connecting::claims) {
            return Ok(Some(claims.clone()));
        }
        if let Some(claims) = crate::inbound::claims_of(self.fields()) {
            return Ok(Some(claims));
        }
        Ok(self
            .connection()
            .await?
            .and_then(|conn| conn.metadata.get("claims").cloned()))
    }

    /// The caller's stored connection record, read from the store on the first call of an event
    /// and remembered for the rest of it; events that never call this never read the store.
    /// `None` when the store has no (live) record, and in `$connect`, without a read: the
    /// connection is stored only once its `$connect` succeeds. (Calls of one event that run at
    /// the same time, as in `join!`, may each read it; the first read is kept.)
    pub async fn connection(&self) -> Result<Option<&Connection>, StoreError> {
        if self.connecting.is_some() {
            return Ok(None);
        }
        if let Some(connection) = self.connection.get() {
            return Ok(connection.as_deref());
        }
        let read = self.store.get(self.out.caller()).await?;
        Ok(self
            .connection
            .get_or_init(|| read.map(Box::new))
            .as_deref())
    }
}

/// **Rooms and users**: the caller's rooms, a room's members, a user's connections. Sending to
/// them is [`room`](Self::room) and [`user`](Self::user).
impl WsContext {
    /// Adds the caller to `room`. (A record already read with [`connection`](Self::connection)
    /// keeps the rooms it had when read.)
    ///
    /// In `$connect` the connection is not stored yet: the rooms are joined right after it is
    /// saved, before the handshake completes (if that fails, the connection is refused and
    /// removed). So `ctx.join("everyone")` in `$connect` puts every connection in a room that
    /// broadcasts can read page by page, instead of listing the whole store.
    pub async fn join(&self, room: &str) -> Result<(), StoreError> {
        match &self.connecting {
            Some(connecting) => {
                connecting.join(room);
                Ok(())
            }
            None => {
                self.store.join(self.out.caller(), room).await?;
                if self.out.keeps_presence() {
                    if let Some(conn) = self.connection().await? {
                        if let Some(user) = &conn.user {
                            self.out
                                .present(room, user, &conn.id, conn.expires_at)
                                .await;
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// Removes the caller from `room` (in `$connect`, from the rooms it was to join).
    pub async fn leave(&self, room: &str) -> Result<(), StoreError> {
        match &self.connecting {
            Some(connecting) => {
                connecting.leave(room);
                Ok(())
            }
            None => {
                self.store.leave(self.out.caller(), room).await?;
                if self.out.keeps_presence() {
                    if let Some(user) = self.connection().await?.and_then(|c| c.user.as_deref()) {
                        self.out.absent(room, user, self.out.caller()).await;
                    }
                }
                Ok(())
            }
        }
    }

    /// The members of `room`, a page at a time (one store request per page):
    ///
    /// ```no_run
    /// # use lift_runtime::prelude::*;
    /// # async fn demo(ctx: &WsContext) -> WsResult {
    /// use futures_util::StreamExt;
    ///
    /// let mut pages = ctx.members("lobby");
    /// while let Some(page) = pages.next().await {
    ///     for member in page? {
    ///         let _ = ctx.send(&member.connection_id, &"hello, lobby").await;
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn members<'a>(&'a self, room: &'a str) -> Pages<'a, Member> {
        self.store.members(room)
    }

    /// The live connections of `user`.
    pub async fn user_connections(&self, user: &str) -> Result<Vec<Connection>, StoreError> {
        self.store.user_connections(user).await
    }
}

/// **Sending**: every Management API call of the event — to the caller, to connections, to a
/// room's members, to a user's connections — serialised once, retried within the deadline
/// (429 and 5xx, with jittered backoff), connections found gone (410) removed from the store.
/// Messages over API Gateway's 128 KB are refused before any call.
impl WsContext {
    /// Sends `message`, serialised as JSON, to a connection. Throttled (429) and failed (5xx)
    /// attempts are retried within the deadline; a connection that is gone (410) is removed
    /// from the store and reported as [`SendError::Gone`].
    pub async fn send<T: Serialize + ?Sized>(
        &self,
        connection_id: &str,
        message: &T,
    ) -> Result<(), SendError> {
        self.out.send(connection_id, message).await
    }

    /// Sends these bytes as they are (a text frame when they are UTF-8) to a connection, as
    /// [`send`](Self::send) does.
    pub async fn send_raw(&self, connection_id: &str, data: &[u8]) -> Result<(), SendError> {
        self.out.send_raw(connection_id, data).await
    }

    /// Sends `message`, serialised as JSON, to the caller.
    pub async fn reply<T: Serialize + ?Sized>(&self, message: &T) -> Result<(), SendError> {
        self.out.reply(message).await
    }

    /// Sends `message`, serialised once, to every connection in `connection_ids`, with bounded
    /// concurrency and retries (see [`BroadcastSettings`](crate::settings::BroadcastSettings)); connections that are gone
    /// are removed from the store afterwards. Refuses a message over 128 KB before any send.
    pub fn broadcast<I, S, T>(
        &self,
        connection_ids: I,
        message: &T,
    ) -> impl std::future::Future<Output = Result<BroadcastReport, SendError>> + Send + '_
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
        T: Serialize + ?Sized,
    {
        self.out.broadcast(connection_ids, message)
    }

    /// A room, to broadcast to its members: `ctx.room("lobby").broadcast(&msg)`.
    pub fn room<'a>(&'a self, name: &'a str) -> Room<'a> {
        Room::new(&self.out, name)
    }

    /// A user, to reach all of their connections: `ctx.user("ana").send(&msg)`.
    pub fn user<'a>(&'a self, user: &'a str) -> User<'a> {
        User::new(&self.out, user)
    }

    /// Closes a connection (its `$disconnect` follows).
    pub async fn disconnect(&self, connection_id: &str) -> Result<(), SendError> {
        self.out.disconnect(connection_id).await
    }

    /// What API Gateway knows of a connection.
    pub async fn info(&self, connection_id: &str) -> Result<ConnectionInfo, SendError> {
        self.out.info(connection_id).await
    }
}

impl std::fmt::Debug for WsContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsContext")
            .field("connection_id", &self.connection_id())
            .field("route", &self.route)
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    // Handlers hold `&WsContext` across `.await`: their futures are `Send` only if it is `Sync`.
    assert_send_sync::<WsContext>();
};
