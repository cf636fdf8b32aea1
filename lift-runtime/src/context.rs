//! [`WsContext`]: everything a handler knows about the event it serves, and how it answers.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use serde::Serialize;
use tokio::sync::OnceCell;

use crate::error::{SendError, StoreError};
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
    connection: OnceCell<Option<Connection>>,
    user: Option<String>,
    metadata: serde_json::Value,
    pending_reply: Option<String>,
}

pub(crate) struct ContextParts {
    pub event: ApiGatewayWebsocketProxyRequest,
    pub connection_id: String,
    pub route_key: String,
    pub request_id: String,
    pub deadline: Option<Instant>,
    pub management: Arc<dyn ManagementApi>,
    pub store: Arc<dyn ConnectionStore>,
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
            connection: OnceCell::new(),
            user: None,
            metadata: serde_json::Value::Null,
            pending_reply: None,
        }
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

    /// The user set by [`set_user`](Self::set_user) during this event.
    pub(crate) fn take_identity(&mut self) -> (Option<String>, serde_json::Value) {
        (self.user.take(), std::mem::take(&mut self.metadata))
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
    pub async fn join(&self, room: &str) -> Result<(), StoreError> {
        self.store.join(&self.connection_id, room).await
    }

    /// Removes the caller from `room`.
    pub async fn leave(&self, room: &str) -> Result<(), StoreError> {
        self.store.leave(&self.connection_id, room).await
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

    /// Sends `message`, serialised as JSON, to a connection.
    pub async fn send<T: Serialize + ?Sized>(
        &self,
        connection_id: &str,
        message: &T,
    ) -> Result<(), SendError> {
        let data = serde_json::to_vec(message).map_err(|err| SendError::Failed {
            endpoint: self.management.endpoint().to_owned(),
            message: format!("the message could not be serialised: {err}"),
        })?;
        self.send_raw(connection_id, &data).await
    }

    /// Sends these bytes as they are (a text frame when they are UTF-8) to a connection.
    pub async fn send_raw(&self, connection_id: &str, data: &[u8]) -> Result<(), SendError> {
        if data.len() > MAX_MESSAGE_SIZE {
            return Err(SendError::TooLarge {
                size: data.len(),
                limit: MAX_MESSAGE_SIZE,
            });
        }
        self.management.post(connection_id, data).await
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

    pub(crate) fn management(&self) -> &dyn ManagementApi {
        &*self.management
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
