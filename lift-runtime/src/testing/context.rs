//! Unit tests of handlers without sockets: [`TestContext`] builds the [`WsContext`] a handler
//! takes, with the caller's stored record in a store of your choosing, and [`Calls`] records
//! every Management API call the handler makes.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde_json::Value;

use super::Event;
use crate::context::{ContextParts, WsContext};
use crate::error::{SendError, StoreError};
use crate::outbound::{BroadcastSettings, ConnectionInfo, ManagementApi, Outbound};
use crate::route_key::RouteKey;
use crate::store::{Connection, ConnectionStore, MemoryStore};

/// The connection id a [`TestContext`] calls from unless told otherwise.
pub const TEST_CONNECTION: &str = "test-connection=";

/// Builds the [`WsContext`] a handler takes, for calling the handler directly in a unit test:
/// the event (route key, body, query, headers), the caller's stored record (user, metadata,
/// identity claims, rooms) in a store of your choosing, and a Management API that records
/// every call ([`Calls`]) instead of sending.
///
/// ```
/// use lift_runtime::prelude::*;
/// use lift_runtime::testing::TestContext;
/// use serde_json::json;
///
/// /// Greets the caller by the name stored at `$connect`.
/// async fn hello(ctx: &WsContext) -> WsResult {
///     let user = ctx.connection().await?.and_then(|c| c.user.clone()).unwrap_or_default();
///     ctx.reply(&json!({"hello": user})).await?;
///     Ok(())
/// }
///
/// # #[tokio::main] async fn main() {
/// // In a `#[tokio::test]`:
/// let (ctx, calls) = TestContext::message("hello", "{}").user("ana").build().await;
/// hello(&ctx).await.unwrap();
/// assert_eq!(calls.replies(), [json!({"hello": "ana"})]);
/// # }
/// ```
pub struct TestContext {
    event: Event,
    connection_id: String,
    user: Option<String>,
    metadata: Value,
    claims: Option<Value>,
    rooms: Vec<String>,
    store: Option<Arc<dyn ConnectionStore>>,
    registered: bool,
    gone: Vec<String>,
    base64: bool,
}

impl TestContext {
    fn new(event: Event, registered: bool) -> Self {
        TestContext {
            connection_id: TEST_CONNECTION.to_owned(),
            event,
            user: None,
            metadata: Value::Null,
            claims: None,
            rooms: Vec::new(),
            store: None,
            registered,
            gone: Vec::new(),
            base64: false,
        }
    }

    /// A message routed to `route_key` (`$default` for the default route) with this body, from
    /// a stored connection.
    pub fn message(route_key: &str, body: &str) -> Self {
        Self::new(Event::message(TEST_CONNECTION, route_key, body), true)
    }

    /// The `$connect` of a connection not stored yet (see [`saved`](Self::saved) for what the
    /// handler would store).
    pub fn connect() -> Self {
        Self::new(Event::connect(TEST_CONNECTION), false)
    }

    /// The `$disconnect` of a stored connection, with the client's close code and reason.
    pub fn disconnect(code: u16, reason: &str) -> Self {
        Self::new(Event::disconnect(TEST_CONNECTION, code, reason), true)
    }

    /// The caller's connection id (default [`TEST_CONNECTION`]).
    pub fn connection_id(mut self, id: &str) -> Self {
        self.connection_id = id.to_owned();
        self
    }

    /// The body is base64 (`isBase64Encoded`), as API Gateway sends a binary message.
    pub fn base64(mut self) -> Self {
        self.base64 = true;
        self
    }

    /// A query-string parameter of the handshake.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.event = self.event.query(name, value);
        self
    }

    /// A header of the handshake.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.event = self.event.header(name, value);
        self
    }

    /// The user the caller's stored record belongs to.
    pub fn user(mut self, user: &str) -> Self {
        self.user = Some(user.to_owned());
        self
    }

    /// The verified identity claims of the caller (what
    /// [`WsContext::identity`](crate::WsContext::identity) answers): on `$connect` as `JwtAuth`
    /// sets them before the handler, otherwise saved with the caller's record.
    pub fn claims(mut self, claims: Value) -> Self {
        self.claims = Some(claims);
        self
    }

    /// Rooms the caller is in.
    pub fn rooms<I, S>(mut self, rooms: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rooms.extend(rooms.into_iter().map(Into::into));
        self
    }

    /// The store the context reads and writes (default: a fresh [`MemoryStore`]); keep a clone
    /// to put other connections in it and to look at it afterwards.
    pub fn store(mut self, store: impl ConnectionStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// The caller has no stored record (as after a failed `$connect`, or a record expired).
    pub fn unregistered(mut self) -> Self {
        self.registered = false;
        self
    }

    /// Sends to these connections answer 410 Gone, as API Gateway does for closed ones.
    pub fn gone(mut self, connection_id: &str) -> Self {
        self.gone.push(connection_id.to_owned());
        self
    }

    /// The context, with the caller's record stored first, and the recorder of its
    /// Management API calls.
    pub async fn build(self) -> (WsContext, Calls) {
        let store = self
            .store
            .clone()
            .unwrap_or_else(|| Arc::new(MemoryStore::new()));
        let mut event = self.event.to_event();
        event.request_context.connection_id = Some(self.connection_id.clone());
        event.is_base64_encoded = self.base64;
        let route = RouteKey::parse(event.request_context.route_key.as_deref().unwrap_or(""));
        if self.registered {
            let mut record = Connection::new(&self.connection_id, SystemTime::now());
            record.user = self.user.clone();
            record.metadata = match (self.metadata.clone(), self.claims.clone()) {
                (metadata, None) => metadata,
                (Value::Object(mut map), Some(claims)) => {
                    map.insert("claims".to_owned(), claims);
                    Value::Object(map)
                }
                (_, Some(claims)) => serde_json::json!({ "claims": claims }),
            };
            store
                .save(&record)
                .await
                .expect("the test store saves the caller's record");
            for room in &self.rooms {
                store
                    .join(&self.connection_id, room)
                    .await
                    .expect("the test store joins the caller to its rooms");
            }
        }
        let calls = Calls {
            inner: Arc::new(Mutex::new(Vec::new())),
            caller: self.connection_id.clone(),
            gone: self.gone.into_iter().collect(),
        };
        let out = Outbound::new(
            Arc::new(calls.clone()),
            store.clone(),
            Arc::new(BroadcastSettings::default()),
            None,
            self.connection_id,
            route == RouteKey::Connect,
            None,
        );
        let connect = route == RouteKey::Connect;
        let mut ctx = WsContext::new(
            crate::event::Event::whole(event),
            ContextParts {
                route,
                request_id: crate::ids::request_id(),
                store,
                out,
            },
        );
        if connect {
            // As `JwtAuth` leaves them for the `$connect` handler.
            if let Some(claims) = self.claims {
                ctx.set_claims(claims);
            }
        }
        (ctx, calls)
    }

    /// What a `$connect` handler's context would store once the handler returned `Ok`: the
    /// runtime's own saving (user, metadata, claims, rooms joined), run on the context's store;
    /// the stored record.
    pub async fn saved(mut ctx: WsContext) -> Result<Connection, StoreError> {
        let connecting = ctx.take_connecting().ok_or_else(|| {
            StoreError::new(
                "`saved` takes the context of a `$connect` (TestContext::connect)",
                None,
            )
        })?;
        let ttl = crate::store::MAX_CONNECTION_LIFETIME + crate::store::EXPIRY_SLACK;
        let (_, record) =
            connecting.into_record(ctx.connection_id(), ctx.connected_at(), ttl, None);
        crate::connect::store(ctx.store(), &record).await?;
        ctx.store()
            .get(ctx.connection_id())
            .await?
            .ok_or_else(|| StoreError::not_found(ctx.connection_id()))
    }
}

impl std::fmt::Debug for TestContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestContext")
            .field("connection_id", &self.connection_id)
            .field("user", &self.user)
            .field("rooms", &self.rooms)
            .finish_non_exhaustive()
    }
}

/// One Management API call a handler made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// `POST @connections/{to}`: a send, a reply or one message of a broadcast.
    Send {
        /// The connection sent to.
        to: String,
        /// The message as sent.
        data: Vec<u8>,
    },
    /// `DELETE @connections/{connection_id}`: `ctx.disconnect(..)`.
    Disconnect {
        /// The connection closed.
        connection_id: String,
    },
    /// `GET @connections/{connection_id}`: `ctx.info(..)`.
    Info {
        /// The connection asked about.
        connection_id: String,
    },
}

/// The Management API calls of a [`TestContext`]'s handler, in order. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Calls {
    inner: Arc<Mutex<Vec<Call>>>,
    caller: String,
    gone: HashSet<String>,
}

impl Calls {
    /// Every call, in order.
    pub fn all(&self) -> Vec<Call> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The messages sent to `connection_id`, as JSON (a message that is not JSON as a string).
    pub fn sent_to(&self, connection_id: &str) -> Vec<Value> {
        self.all()
            .into_iter()
            .filter_map(|call| match call {
                Call::Send { to, data } if to == connection_id => Some(as_json(&data)),
                _ => None,
            })
            .collect()
    }

    /// The messages sent to the caller (`ctx.reply`, error frames posted by the runtime are
    /// not included: the handler's `Err` is its return value here).
    pub fn replies(&self) -> Vec<Value> {
        self.sent_to(&self.caller)
    }

    /// The connections the handler closed.
    pub fn disconnected(&self) -> Vec<String> {
        self.all()
            .into_iter()
            .filter_map(|call| match call {
                Call::Disconnect { connection_id } => Some(connection_id),
                _ => None,
            })
            .collect()
    }

    fn record(&self, call: Call) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(call);
    }
}

fn as_json(data: &[u8]) -> Value {
    serde_json::from_slice(data)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(data).into_owned()))
}

#[async_trait]
impl ManagementApi for Calls {
    fn endpoint(&self) -> &str {
        "test"
    }

    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<(), SendError> {
        if self.gone.contains(connection_id) {
            return Err(SendError::Gone {
                connection_id: connection_id.to_owned(),
            });
        }
        self.record(Call::Send {
            to: connection_id.to_owned(),
            data: data.to_vec(),
        });
        Ok(())
    }

    async fn delete(&self, connection_id: &str) -> Result<(), SendError> {
        self.record(Call::Disconnect {
            connection_id: connection_id.to_owned(),
        });
        Ok(())
    }

    async fn info(&self, connection_id: &str) -> Result<ConnectionInfo, SendError> {
        self.record(Call::Info {
            connection_id: connection_id.to_owned(),
        });
        Ok(ConnectionInfo {
            connected_at: Some(SystemTime::now() - Duration::from_secs(60)),
            last_active_at: Some(SystemTime::now()),
            source_ip: Some("127.0.0.1".to_owned()),
            user_agent: None,
        })
    }
}
