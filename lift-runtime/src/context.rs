//! [`WsContext`]: everything a handler knows about the event it serves, and how it answers.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use futures_util::{Stream, StreamExt};
use serde::Serialize;
use tokio::sync::OnceCell;

use crate::broadcast::{
    send_many, send_one, send_stream, BroadcastConfig, BroadcastReport, Outcome,
};
use crate::error::{SendError, StoreError, WsError};
use crate::management::{ConnectionInfo, ManagementApi, MAX_MESSAGE_SIZE};
use crate::store::{Connection, ConnectionStore, Member, Pages};

/// The context of one event: the caller's connection, the route, the request, and the ways to
/// answer (through the API Gateway Management API) and to reach the connection store.
///
/// Handlers take it as their first parameter, `&WsContext` or `&mut WsContext` (the `$connect`
/// handler takes `&mut` to set the user and metadata that are stored with the connection).
pub struct WsContext {
    event: ApiGatewayWebsocketProxyRequest,
    connection_id: String,
    route_key: String,
    request_id: String,
    deadline: Option<Instant>,
    management: Arc<dyn ManagementApi>,
    store: Arc<dyn ConnectionStore>,
    broadcast: Arc<BroadcastConfig>,
    connection: OnceCell<Option<Connection>>,
    user: Option<String>,
    metadata: serde_json::Value,
    pending_reply: Option<String>,
    claims: Option<serde_json::Value>,
    response_headers: Vec<(&'static str, String)>,
    extensions: http::Extensions,
    sends: SendCounters,
    /// Rooms joined during `$connect`, joined once the connection is saved.
    pending_rooms: std::sync::Mutex<Vec<String>>,
}

/// What the sends of one event did, counted as they finish.
#[derive(Default)]
struct SendCounters {
    delivered: AtomicUsize,
    gone: AtomicUsize,
    undelivered: AtomicUsize,
}

/// The Management API sends of one event so far ([`WsContext::send_totals`]): every `send`,
/// `reply` and broadcast, connection by connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendTotals {
    /// Messages delivered.
    pub delivered: usize,
    /// Connections found gone (410).
    pub gone: usize,
    /// Messages not delivered: failed after the retries, or not attempted before the deadline.
    pub undelivered: usize,
}

pub(crate) struct ContextParts {
    pub event: ApiGatewayWebsocketProxyRequest,
    pub connection_id: String,
    pub route_key: String,
    pub request_id: String,
    pub deadline: Option<Instant>,
    pub management: Arc<dyn ManagementApi>,
    pub store: Arc<dyn ConnectionStore>,
    pub broadcast: Arc<BroadcastConfig>,
}

impl WsContext {
    pub(crate) fn new(parts: ContextParts) -> Self {
        WsContext {
            event: parts.event,
            connection_id: parts.connection_id,
            route_key: parts.route_key,
            request_id: parts.request_id,
            deadline: parts.deadline,
            management: parts.management,
            store: parts.store,
            broadcast: parts.broadcast,
            connection: OnceCell::new(),
            user: None,
            metadata: serde_json::Value::Null,
            pending_reply: None,
            claims: None,
            response_headers: Vec::new(),
            extensions: http::Extensions::new(),
            sends: SendCounters::default(),
            pending_rooms: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// What this event's sends did so far (for middleware such as
    /// [`observe::Metrics`](crate::observe::Metrics)).
    pub fn send_totals(&self) -> SendTotals {
        SendTotals {
            delivered: self.sends.delivered.load(Ordering::Relaxed),
            gone: self.sends.gone.load(Ordering::Relaxed),
            undelivered: self.sends.undelivered.load(Ordering::Relaxed),
        }
    }

    fn count(&self, delivered: usize, gone: usize, undelivered: usize) {
        self.sends.delivered.fetch_add(delivered, Ordering::Relaxed);
        self.sends.gone.fetch_add(gone, Ordering::Relaxed);
        self.sends
            .undelivered
            .fetch_add(undelivered, Ordering::Relaxed);
    }

    /// The caller's connection id.
    pub fn connection_id(&self) -> &str {
        &self.connection_id
    }

    /// The route key API Gateway selected (`$connect`, `sendMessage`, `$default`...).
    pub fn route_key(&self) -> &str {
        &self.route_key
    }

    /// The request id logs are tagged with: the Lambda invocation's id (the emulator makes one).
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// When the invocation must have returned, if known (Lambda's deadline).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The whole API Gateway event.
    pub fn event(&self) -> &ApiGatewayWebsocketProxyRequest {
        &self.event
    }

    /// The message body (none on `$connect` and `$disconnect`).
    pub fn body(&self) -> Option<&str> {
        self.event.body.as_deref()
    }

    /// Whether the event's body is base64 (`isBase64Encoded`), as when the integration converts
    /// a payload to binary (`contentHandlingStrategy: CONVERT_TO_BINARY`). Clients themselves
    /// can only send text frames: API Gateway closes the connection with 1003 on a binary one.
    pub fn is_base64_encoded(&self) -> bool {
        self.event.is_base64_encoded
    }

    /// The message's bytes: the body decoded from base64 when the event says it is
    /// ([`is_base64_encoded`](Self::is_base64_encoded)), else the text's UTF-8 bytes. An
    /// `invalid_body` error when the event says base64 and the body is not.
    ///
    /// ```
    /// # use lift_runtime::prelude::*;
    /// async fn upload(ctx: &WsContext) -> WsResult<Reply> {
    ///     let bytes = ctx.body_bytes()?;
    ///     Ok(Reply::text(format!("{} bytes", bytes.len())))
    /// }
    /// ```
    pub fn body_bytes(&self) -> Result<Vec<u8>, WsError> {
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
        self.event.query_string_parameters.first(name)
    }

    /// A header of the `$connect` request (API Gateway passes headers on `$connect` and
    /// `$disconnect` only).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.event.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The client's IP address.
    pub fn source_ip(&self) -> Option<&str> {
        self.event.request_context.identity.source_ip.as_deref()
    }

    /// On `$connect`: the user this connection belongs to, saved with the connection.
    pub fn set_user(&mut self, user: impl Into<String>) {
        self.user = Some(user.into());
    }

    /// On `$connect`: anything else to keep with the connection (claims, a display name...).
    pub fn set_metadata(&mut self, metadata: serde_json::Value) {
        self.metadata = metadata;
    }

    /// The reply the handler returned, once it has run (for middleware, after
    /// [`Next::run`](crate::Next::run)): sent to the caller after the middleware returns.
    pub fn pending_reply(&self) -> Option<&str> {
        self.pending_reply.as_deref()
    }

    /// Replaces (or, with `None`, drops) the reply that will be sent to the caller.
    pub fn set_pending_reply(&mut self, reply: Option<String>) {
        self.pending_reply = reply;
    }

    pub(crate) fn take_pending_reply(&mut self) -> Option<String> {
        self.pending_reply.take()
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
    /// async fn tenant(ctx: &mut WsContext, next: Next<'_>) -> WsResult {
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

    /// On `$connect`: the verified claims of the caller (set by an authentication middleware
    /// such as [`JwtAuth`](crate::auth::JwtAuth)). They are saved with the connection, under
    /// `claims` in its metadata.
    pub fn set_claims(&mut self, claims: serde_json::Value) {
        self.claims = Some(claims);
    }

    /// The caller's verified claims: those set during this event, else the ones saved with the
    /// connection at `$connect` (read from the store at most once per event, with
    /// [`connection`](Self::connection)). `None` for connections that were not authenticated.
    pub async fn identity(&self) -> Result<Option<serde_json::Value>, StoreError> {
        if let Some(claims) = &self.claims {
            return Ok(Some(claims.clone()));
        }
        Ok(self
            .connection()
            .await?
            .and_then(|conn| conn.metadata.get("claims").cloned()))
    }

    /// On `$connect`: a header of the response API Gateway answers the handshake with (for
    /// example the `Sec-WebSocket-Protocol` it must echo).
    pub fn set_response_header(&mut self, name: &'static str, value: impl Into<String>) {
        self.response_headers.push((name, value.into()));
    }

    pub(crate) fn take_response_headers(&mut self) -> Vec<(&'static str, String)> {
        std::mem::take(&mut self.response_headers)
    }

    /// The user set by [`set_user`](Self::set_user) during this event.
    pub(crate) fn take_identity(&mut self) -> (Option<String>, serde_json::Value) {
        let mut metadata = std::mem::take(&mut self.metadata);
        if let Some(claims) = self.claims.clone() {
            match &mut metadata {
                serde_json::Value::Object(map) => {
                    map.insert("claims".to_owned(), claims);
                }
                _ => metadata = serde_json::json!({ "claims": claims }),
            }
        }
        (self.user.take(), metadata)
    }

    /// The caller's stored connection record, read from the store on the first call of an event
    /// and remembered for the rest of it; events that never call this never read the store.
    /// `None` when the store has no (live) record.
    pub async fn connection(&self) -> Result<Option<&Connection>, StoreError> {
        let connection = self
            .connection
            .get_or_try_init(|| self.store.get(&self.connection_id))
            .await?;
        Ok(connection.as_ref())
    }

    /// The connection store.
    pub fn store(&self) -> &dyn ConnectionStore {
        &*self.store
    }

    /// Adds the caller to `room`. (A record already read with [`connection`](Self::connection)
    /// keeps the rooms it had when read.)
    ///
    /// In `$connect` the connection is not stored yet: the rooms are joined right after it is
    /// saved, before the handshake completes (if that fails, the connection is refused and
    /// removed). So `ctx.join("everyone")` in `$connect` puts every connection in a room that
    /// broadcasts can read page by page, instead of listing the whole store.
    pub async fn join(&self, room: &str) -> Result<(), StoreError> {
        if self.route_key == "$connect" {
            let mut pending = self.pending_rooms();
            if !pending.iter().any(|r| r == room) {
                pending.push(room.to_owned());
            }
            return Ok(());
        }
        self.store.join(&self.connection_id, room).await
    }

    /// Removes the caller from `room` (in `$connect`, from the rooms it was to join).
    pub async fn leave(&self, room: &str) -> Result<(), StoreError> {
        if self.route_key == "$connect" {
            self.pending_rooms().retain(|r| r != room);
            return Ok(());
        }
        self.store.leave(&self.connection_id, room).await
    }

    fn pending_rooms(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.pending_rooms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The rooms joined during `$connect`, to join once the connection is saved.
    pub(crate) fn take_pending_rooms(&mut self) -> Vec<String> {
        std::mem::take(&mut *self.pending_rooms())
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

    /// Sends `message`, serialised as JSON, to a connection. Throttled (429) and failed (5xx)
    /// attempts are retried within the deadline; a connection that is gone (410) is removed
    /// from the store and reported as [`SendError::Gone`].
    pub async fn send<T: Serialize + ?Sized>(
        &self,
        connection_id: &str,
        message: &T,
    ) -> Result<(), SendError> {
        let data = self.serialise(message)?;
        self.send_raw(connection_id, &data).await
    }

    /// Sends these bytes as they are (a text frame when they are UTF-8) to a connection, as
    /// [`send`](Self::send) does.
    pub async fn send_raw(&self, connection_id: &str, data: &[u8]) -> Result<(), SendError> {
        if data.len() > MAX_MESSAGE_SIZE {
            return Err(SendError::TooLarge {
                size: data.len(),
                limit: MAX_MESSAGE_SIZE,
            });
        }
        let outcome = send_one(
            &*self.management,
            connection_id,
            data,
            self.send_deadline(),
            &self.broadcast,
        )
        .await;
        match &outcome {
            Outcome::Sent => self.count(1, 0, 0),
            Outcome::Gone => self.count(0, 1, 0),
            Outcome::Failed(_) | Outcome::NotAttempted => self.count(0, 0, 1),
        }
        match outcome {
            Outcome::Sent => Ok(()),
            Outcome::Gone
                if self.route_key == "$connect" && connection_id == self.connection_id =>
            {
                // Not stored yet, so nothing to forget.
                tracing::warn!(
                    connection_id,
                    "a send to the connection being opened: API Gateway delivers nothing to a \
                     connection before its $connect handler has returned (410); send from a \
                     later event, e.g. when the client asks"
                );
                Err(SendError::Gone {
                    connection_id: connection_id.to_owned(),
                })
            }
            Outcome::Gone => {
                self.forget(&[connection_id.to_owned()]).await;
                Err(SendError::Gone {
                    connection_id: connection_id.to_owned(),
                })
            }
            Outcome::Failed(err) => Err(err),
            Outcome::NotAttempted => Err(SendError::Deadline {
                endpoint: self.management.endpoint().to_owned(),
            }),
        }
    }

    /// Sends `message`, serialised once, to every connection in `connection_ids`, with bounded
    /// concurrency and retries (see [`broadcast`](crate::broadcast)); connections that are gone
    /// are removed from the store afterwards. Refuses a message over 128 KB before any send.
    pub fn broadcast<I, S, T>(
        &self,
        connection_ids: I,
        message: &T,
    ) -> impl Future<Output = Result<BroadcastReport, SendError>> + Send + '_
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
        T: Serialize + ?Sized,
    {
        // Everything borrowed from the arguments is taken now, so the future holds only owned
        // data (and stays `Send` whatever iterator the caller passed).
        let ids: Vec<String> = connection_ids
            .into_iter()
            .map(|id| id.as_ref().to_owned())
            .collect();
        let data = self.serialise(message);
        async move {
            let data = data?;
            let started = Instant::now();
            let report = send_many(
                &*self.management,
                ids,
                &data,
                self.send_deadline(),
                &self.broadcast,
            )
            .await?;
            self.settle(&report, started, None).await;
            Ok(report)
        }
    }

    /// A room, to broadcast to its members: `ctx.room("lobby").broadcast(&msg)`.
    pub fn room<'a>(&'a self, name: &'a str) -> Room<'a> {
        Room {
            ctx: self,
            name,
            except: None,
        }
    }

    /// A user, to reach all of their connections: `ctx.user("ana").send(&msg)`.
    pub fn user<'a>(&'a self, user: &'a str) -> User<'a> {
        User { ctx: self, user }
    }

    fn serialise<T: Serialize + ?Sized>(&self, message: &T) -> Result<Vec<u8>, SendError> {
        serde_json::to_vec(message).map_err(|err| SendError::Failed {
            endpoint: self.management.endpoint().to_owned(),
            message: format!("the message could not be serialised: {err}"),
        })
    }

    /// When sends must stop: the invocation's deadline, or the configured budget from now.
    fn send_deadline(&self) -> Instant {
        self.deadline
            .unwrap_or_else(|| Instant::now() + self.broadcast.default_budget)
    }

    /// After a broadcast: removes the connections found gone and logs what happened (at `debug`
    /// when every connection was reached or gone, at `warn` otherwise).
    async fn settle(&self, report: &BroadcastReport, started: Instant, room: Option<&str>) {
        self.count(
            report.sent,
            report.gone.len(),
            report.failed.len() + report.not_attempted.len(),
        );
        self.forget(&report.gone).await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let (sent, gone, failed, not_attempted) = (
            report.sent,
            report.gone.len(),
            report.failed.len(),
            report.not_attempted.len(),
        );
        if failed == 0 && not_attempted == 0 && !report.unread {
            tracing::debug!(room, sent, gone, elapsed_ms, "broadcast");
        } else {
            let first_failure = report.failed.first().map(|(_, err)| err.to_string());
            tracing::warn!(
                room,
                sent,
                gone,
                failed,
                not_attempted,
                unread = report.unread,
                first_failure,
                elapsed_ms,
                "broadcast did not reach every connection"
            );
        }
    }

    /// Removes connections API Gateway reported gone, with their memberships.
    async fn forget(&self, gone: &[String]) {
        if gone.is_empty() {
            return;
        }
        if let Err(err) = self.store.remove_many(gone).await {
            tracing::warn!(error = %err, count = gone.len(), "could not remove gone connections");
        } else {
            tracing::debug!(count = gone.len(), "removed gone connections");
        }
    }

    /// Sends `message`, serialised as JSON, to the caller.
    pub async fn reply<T: Serialize + ?Sized>(&self, message: &T) -> Result<(), SendError> {
        self.send(&self.connection_id, message).await
    }

    /// Closes a connection (its `$disconnect` follows).
    pub async fn disconnect(&self, connection_id: &str) -> Result<(), SendError> {
        self.management.delete(connection_id).await
    }

    /// What API Gateway knows of a connection.
    pub async fn info(&self, connection_id: &str) -> Result<ConnectionInfo, SendError> {
        self.management.info(connection_id).await
    }

    /// When the connection was opened, from the event.
    pub(crate) fn connected_at(&self) -> SystemTime {
        let millis = self.event.request_context.connected_at.max(0) as u64;
        if millis == 0 {
            SystemTime::now()
        } else {
            SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(millis)
        }
    }
}

impl std::fmt::Debug for WsContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsContext")
            .field("connection_id", &self.connection_id)
            .field("route_key", &self.route_key)
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    // Handlers hold `&WsContext` across `.await`: their futures are `Send` only if it is `Sync`.
    assert_send_sync::<WsContext>();
};

/// A room of the caller's app, from [`WsContext::room`].
#[derive(Debug)]
pub struct Room<'a> {
    ctx: &'a WsContext,
    name: &'a str,
    except: Option<&'a str>,
}

impl<'a> Room<'a> {
    /// Leaves one connection out of the broadcast, typically the sender's:
    /// `ctx.room("lobby").except(ctx.connection_id()).broadcast(&msg)`.
    pub fn except(mut self, connection_id: &'a str) -> Self {
        self.except = Some(connection_id);
        self
    }

    /// Sends `message` to every member (see [`WsContext::broadcast`]). Members are read a page
    /// at a time while the sends are under way, so up to the configured concurrency is in
    /// flight however small the store's pages. No page is read past the deadline (less the
    /// headroom): the report's [`unread`](BroadcastReport::unread) then says the room may have
    /// had more members. If a page cannot be read, the sends already
    /// started are finished, connections found gone are removed, and the error is
    /// [`SendError::Store`].
    pub async fn broadcast<T: Serialize + ?Sized>(
        &self,
        message: &T,
    ) -> Result<BroadcastReport, SendError> {
        let data = self.ctx.serialise(message)?;
        let deadline = self.ctx.send_deadline();
        let cutoff = self.ctx.broadcast.cutoff(deadline);
        // No page is read past the cutoff: a room of thousands must not hold the function past
        // its deadline with store requests for members nobody will be sent to.
        let unread = AtomicBool::new(false);
        let pages = MemberPages {
            pages: self.ctx.store.members(self.name),
            cutoff,
            cut: &unread,
            except: self.except,
        };
        let members = pages.flat_map(member_ids);
        let started = Instant::now();
        let (mut report, failure) = send_stream(
            &*self.ctx.management,
            members,
            &data,
            deadline,
            &self.ctx.broadcast,
        )
        .await?;
        report.unread = unread.load(Ordering::Relaxed);
        // Connections found gone are removed even when a later page could not be read.
        self.ctx.settle(&report, started, Some(self.name)).await;
        match failure {
            Some(err) => Err(err),
            None => Ok(report),
        }
    }
}

/// A room's pages of members, without `except`, ending at `cutoff` (no read is started past
/// it) and noting in `cut` that it ended there.
struct MemberPages<'a> {
    pages: Pages<'a, Member>,
    cutoff: Instant,
    cut: &'a AtomicBool,
    except: Option<&'a str>,
}

impl Stream for MemberPages<'_> {
    type Item = Result<Vec<Member>, StoreError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        if self.cut.load(Ordering::Relaxed) || Instant::now() >= self.cutoff {
            self.cut.store(true, Ordering::Relaxed);
            return std::task::Poll::Ready(None);
        }
        let except = self.except;
        self.pages.poll_next_unpin(cx).map(|page| {
            page.map(|page| {
                page.map(|mut members| {
                    members.retain(|member| Some(member.connection_id.as_str()) != except);
                    members
                })
            })
        })
    }
}

/// The connection ids of a page of members, or the store's failure to read it.
fn member_ids(
    page: Result<Vec<Member>, StoreError>,
) -> impl Stream<Item = Result<String, SendError>> + Send {
    fn id(member: Member) -> Result<String, SendError> {
        Ok(member.connection_id)
    }
    match page {
        Ok(members) => futures_util::stream::iter(members.into_iter().map(id)).left_stream(),
        Err(err) => {
            futures_util::stream::once(futures_util::future::ready(Err(store_failure(err))))
                .right_stream()
        }
    }
}

/// A user of the caller's app, from [`WsContext::user`].
#[derive(Debug)]
pub struct User<'a> {
    ctx: &'a WsContext,
    user: &'a str,
}

impl User<'_> {
    /// Sends `message` to every live connection of the user (see [`WsContext::broadcast`]).
    pub async fn send<T: Serialize + ?Sized>(
        &self,
        message: &T,
    ) -> Result<BroadcastReport, SendError> {
        let connections = self
            .ctx
            .store
            .user_connections(self.user)
            .await
            .map_err(store_failure)?;
        self.ctx
            .broadcast(connections.iter().map(|conn| conn.id.as_str()), message)
            .await
    }
}

/// A store failure while finding whom to send to.
fn store_failure(err: StoreError) -> SendError {
    SendError::Store {
        message: err.to_string(),
    }
}
