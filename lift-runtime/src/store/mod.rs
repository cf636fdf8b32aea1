//! Where connections are kept: the [`ConnectionStore`] trait and its implementations.
//!
//! The runtime manages connections itself: after a **successful** `$connect` it saves a
//! [`Connection`] (with the user and metadata the connect handler set), and on `$disconnect` it
//! deletes it. Handlers read the caller's record lazily with
//! [`WsContext::connection`](crate::WsContext::connection).
//!
//! # DynamoDB
//!
//! [`DynamoDbStore`] (feature `dynamodb`) keeps connections, users and rooms in one table.
//!
//! ## Schema
//!
//! One table, string keys `pk` (partition) and `sk` (sort), one global secondary index `gsi1`
//! (`gsi1pk`, `gsi1sk`, all attributes projected), on-demand billing (so the index has no
//! provisioned throughput either), and TTL on `expires_at` (epoch seconds).
//!
//! | item | `pk` | `sk` | other attributes |
//! |---|---|---|---|
//! | connection | `CONN#{id}` | `META` | `user`, `metadata` (JSON text), `connected_at` (epoch ms), `expires_at`, `rooms` (string set), `gsi1pk` = `USER#{user}`, `gsi1sk` = `CONN#{id}` |
//! | membership | `ROOM#{room}` | `CONN#{id}` | `connection_id`, `user`, `expires_at` |
//! | session | `SESSION#{id}` | `META` | `user`, `connection_id`, `rooms` (string set), `metadata`, `parked` (bool), `expires_at` |
//! | room history counter ([`Settings::history`](crate::Settings::history)) | `HIST#{room}` | `SEQ` | `seq` (number: the room's last) |
//! | room history entry | `HIST#{room}` | `MSG#{seq, 20 digits}` | `frame` (the JSON sent), `expires_at` |
//! | presence of a user in a room ([`Settings::presence`](crate::Settings::presence)) | `PRES#{room}` | `USER#{user}` | `user`, `conns` (map: connection id → its expiry, epoch seconds), `expires_at` (after any connection could have ended) |
//! | a room with presence (what the sweep reads) | `PRESENCE` | `ROOM#{room}` | `room`, `expires_at` |
//! | counter of a window ([`MessageLimit`](crate::auth::MessageLimit)) | `COUNT#{key}` | `W#{window end, epoch seconds}` | `n` (number), `expires_at` (the window's end) |
//!
//! A connection of a session has `session` too.
//!
//! There are no counters or other items every request writes to (no hot keys): a room's
//! members are spread over its own partition, a user's connections over the index. With room
//! history on, each room has one counter every broadcast to it writes: DynamoDB takes about
//! 1,000 writes a second on one item, so a room with history takes up to about 1,000
//! broadcasts a second (each broadcast still reaches any number of members).
//!
//! ## Access patterns (requests per call)
//!
//! | call | requests |
//! |---|---|
//! | `save` (`$connect`) | 1 `PutItem` |
//! | `save_joined` (`$connect` whose handler joined R rooms) | 1 `TransactWriteItems` of 1 + R items (R ≤ 99; past that, `save` then `join` each) |
//! | `get` (`ctx.connection()`, at most once per event) | 1 `GetItem` |
//! | `delete` (`$disconnect`) of a connection in R rooms | 1 `DeleteItem` (returning its rooms) + ⌈R/25⌉ `BatchWriteItem` |
//! | `join` | 1 `GetItem` (the user and expiry the membership copies) + 1 `TransactWriteItems` (the connection's `rooms` and the membership, atomically, on condition that the connection exists: a join racing a disconnect never leaves an orphan membership) |
//! | `leave` | 1 `TransactWriteItems` |
//! | `members` of a room of N | ⌈N/page size⌉ `Query` (one more when N is an exact multiple: DynamoDB only knows it is done when asked) |
//! | `user_connections` | `Query` pages on `gsi1` |
//! | `refresh` of a connection in R rooms | 1 `UpdateItem` + R `UpdateItem` |
//! | `remove_many` of K connections | ⌈K/100⌉ `BatchGetItem` + `BatchWriteItem`s of 25 deletes |
//! | `list` | `Scan` pages (the whole table: for small apps and tools) |
//! | `session`, `save_session` | 1 `GetItem` (consistent), 1 `PutItem` |
//! | `delete`, `remove_many` of a connection in a session | 1 `UpdateItem` more each (the park, on condition that the session is still the connection's) |
//! | `next_seq`, `save_history` (each room broadcast, with history) | 1 `UpdateItem` (the counter, `ADD`), 1 `PutItem` |
//! | `history` (a replay) | 1 consistent `Query` per 1,000 items (entries and, after them, the counter); 1 `GetItem` of the counter more when a page fills first |
//! | `count` (each message, with `MessageLimit`) | 1 `UpdateItem` (`ADD`, answering the new value) |
//! | `presence_join` | 1 `UpdateItem` answering the map before (2 for the user's first entry in the room); 1 `PutItem` of the room's registration when the user is new there |
//! | `presence_leave` | 1 `UpdateItem` answering the map after |
//! | `presence_users` | `Query` pages of `PRES#{room}` |
//! | `presence_expire` (the sweep) | `Query` pages of `PRESENCE` and of each room's users; 1 `UpdateItem` per user with expired entries (on condition that they are unchanged) |
//! | `refresh` with presence | 1 `UpdateItem` more per room of the connection |
//!
//! Room history, per broadcast: 2 requests more (the counter, the entry), whatever the room's
//! size, so a room of N members costs 2 + ⌈N/page size⌉ requests instead of ⌈N/page size⌉. A
//! replay of K messages costs the caller's `GetItem` and ⌈K/100⌉ `Query` requests (a replay reads
//! 100 entries a page). An entry of a 1 KB frame is one write unit; its storage is billed until
//! TTL deletes it.
//!
//! Sessions, per `$connect` with `?session=ID`: a new or parked session costs 1 `GetItem` and
//! 1 `PutItem` beside the connection's own write; taking over a session whose connection is
//! still there costs that connection's `delete` (with its park) and 1 `GetItem` more (more
//! only when another invocation is removing it at the same moment). Its `$disconnect` costs
//! the park.
//!
//! DynamoDB deletes expired items lazily (up to days later), so every read filters on
//! `expires_at` itself: an expired connection or membership is invisible at once.
//! What DynamoDB leaves of a batch when it is throttled (`UnprocessedKeys` of a `BatchGetItem`,
//! `UnprocessedItems` of a `BatchWriteItem`) is retried with jittered exponential backoff
//! (50 ms doubling, at most 2 s); after 8 retries the operation fails with a [`StoreError`]
//! that says how much was left.

//!

pub(crate) mod dynamodb;
mod memory;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures_util::stream::BoxStream;
use serde::{Deserialize, Serialize};

#[cfg(feature = "dynamodb")]
pub use dynamodb::DynamoDbStore;
pub use memory::MemoryStore;

use crate::error::StoreError;

/// API Gateway closes every WebSocket connection after 2 hours.
pub(crate) const MAX_CONNECTION_LIFETIME: Duration = Duration::from_secs(2 * 60 * 60);

/// Extra time a record is kept after the maximum connection lifetime before it counts as
/// expired, so a record is never dropped while API Gateway may still deliver its `$disconnect`.
pub(crate) const EXPIRY_SLACK: Duration = Duration::from_secs(10 * 60);

/// A stored connection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    /// API Gateway's connection id.
    pub id: String,
    /// The user the connection belongs to, as set by the `$connect` handler.
    pub user: Option<String>,
    /// Anything else the `$connect` handler kept (claims, display name...); `null` when unset.
    pub metadata: serde_json::Value,
    /// When the connection was opened.
    pub connected_at: SystemTime,
    /// When the record stops counting: connected_at + 2 h + slack by default. Expired records
    /// are invisible to every read even before they are deleted.
    pub expires_at: SystemTime,
    /// The rooms the connection is in.
    pub rooms: BTreeSet<String>,
    /// The session it belongs to, when the client connected with `?session=ID` (see
    /// [`Session`]).
    pub session: Option<String>,
}

impl Connection {
    /// A record for `id`, opened at `connected_at`, expiring after API Gateway's maximum
    /// connection lifetime (2 hours) plus 10 minutes of slack.
    pub fn new(id: impl Into<String>, connected_at: SystemTime) -> Self {
        Connection {
            id: id.into(),
            user: None,
            metadata: serde_json::Value::Null,
            connected_at,
            expires_at: connected_at + MAX_CONNECTION_LIFETIME + EXPIRY_SLACK,
            rooms: BTreeSet::new(),
            session: None,
        }
    }

    /// Whether the record has expired at `now`.
    pub(crate) fn is_expired(&self, now: SystemTime) -> bool {
        self.expires_at <= now
    }
}

/// A session: what outlives a connection when the client reconnects with the same
/// `?session=ID` (see the README's "Sessions"). While its connection is open the session names
/// it; when that connection is removed (`$disconnect`, or a `410 Gone` found while sending),
/// the store keeps its rooms and metadata here (the session is *parked*) for the next
/// connection to resume.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The id the client chose: 16 to 128 URL-safe characters.
    pub id: String,
    /// The user it was opened by; a resume by another user is refused.
    pub user: Option<String>,
    /// Its current (or, parked, its last) connection.
    pub connection_id: String,
    /// The rooms of its connection when it was parked (at its `$connect` before that).
    pub rooms: BTreeSet<String>,
    /// The metadata of its connection, likewise.
    pub metadata: serde_json::Value,
    /// Whether its connection has been removed and its rooms and metadata kept here.
    pub parked: bool,
    /// When it stops counting: expired sessions are invisible, and a client that comes back
    /// later starts a new one.
    pub expires_at: SystemTime,
}

impl Session {
    /// The session `connection` is in, parked with its rooms and metadata, if it is `current`
    /// (the session's connection is `connection`'s).
    pub(crate) fn parked_from(current: &Session, connection: &Connection) -> Option<Session> {
        (current.connection_id == connection.id).then(|| Session {
            rooms: connection.rooms.clone(),
            metadata: connection.metadata.clone(),
            parked: true,
            ..current.clone()
        })
    }
}

/// A room message kept for replay ([`Settings::history`](crate::Settings::history)): the
/// frame as it was sent, with its `room` and `seq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Its number in the room: 1, 2, 3... in the order the room's broadcasts were numbered.
    pub seq: u64,
    /// The frame as members got it (JSON text).
    pub frame: String,
    /// When it stops being kept: expired entries are invisible.
    pub expires_at: SystemTime,
}

/// Part of a room's history, from [`ConnectionStore::history`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistoryPage {
    /// Kept entries after the one asked from, in order of `seq`.
    pub entries: Vec<HistoryEntry>,
    /// The room's last number given out (0 when it has none): entries between the last one
    /// returned and this one were not kept, expired, or are past the page.
    pub last: u64,
}

/// What a store without history answers when asked for it.
fn no_presence() -> StoreError {
    StoreError::new(
        "this store keeps no presence: implement ConnectionStore::presence_join, presence_leave, presence_users and presence_expire, or turn presence off (Settings::presence = false)",
        None,
    )
}

fn no_counters() -> StoreError {
    StoreError::new(
        "this store keeps no counters: implement ConnectionStore::count, or remove MessageLimit",
        None,
    )
}

fn no_history() -> StoreError {
    StoreError::new(
        "this store keeps no room history: implement ConnectionStore::next_seq, save_history and history, or turn history off (Settings::history = None)",
        None,
    )
}

/// What a store without sessions answers when asked for one.
fn no_sessions() -> StoreError {
    StoreError::new(
        "this store keeps no sessions: implement ConnectionStore::session and save_session, or turn sessions off (Settings::session_ttl = None)",
        None,
    )
}

/// A member of a room.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Member {
    /// The member connection.
    pub connection_id: String,
    /// Its user, if the `$connect` handler set one.
    pub user: Option<String>,
}

/// One page of a room's members read from a cursor ([`ConnectionStore::member_page`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberPage {
    /// The live members of this page.
    pub members: Vec<Member>,
    /// Where the next page starts; `None` when this page was the last.
    pub next: Option<String>,
}

/// [`ConnectionStore::save_joined`] in separate requests: the connection saved without its
/// rooms, then each room joined; the connection removed again if a join fails.
pub(crate) async fn save_then_join<S: ConnectionStore + ?Sized>(
    store: &S,
    connection: &Connection,
) -> Result<(), StoreError> {
    let mut bare = connection.clone();
    bare.rooms.clear();
    store.save(&bare).await?;
    for room in &connection.rooms {
        if let Err(err) = store.join(&connection.id, room).await {
            if let Err(err) = store.delete(&connection.id).await {
                tracing::warn!(error = %err, "could not remove the refused connection");
            }
            return Err(err);
        }
    }
    Ok(())
}

/// Pages of results, fetched as the stream is polled (one store request per page).
pub type Pages<'a, T> = BoxStream<'a, Result<Vec<T>, StoreError>>;

/// The default number of items per page of [`ConnectionStore::members`].
pub(crate) const DEFAULT_PAGE_SIZE: usize = 100;

/// Keeps connections, their users and their rooms. Implemented by [`MemoryStore`] and (with
/// the `dynamodb` feature) `DynamoDbStore`; both pass the same conformance suite.
///
/// Every read ignores expired records (`expires_at` in the past), whether or not they have
/// been deleted yet.
#[async_trait]
pub trait ConnectionStore: Send + Sync + 'static {
    /// Saves (or replaces) a connection.
    async fn save(&self, connection: &Connection) -> Result<(), StoreError>;

    /// The connection with this id, unless it is unknown or expired.
    async fn get(&self, connection_id: &str) -> Result<Option<Connection>, StoreError>;

    /// Deletes a connection and its room memberships; deleting an unknown id is not an error.
    /// A connection that is its session's current one parks the session (its rooms and
    /// metadata kept there, see [`Session`]).
    async fn delete(&self, connection_id: &str) -> Result<(), StoreError>;

    /// Moves a connection's expiry (and its memberships') to `expires_at`. A
    /// [`StoreError::not_found`] error when the connection is unknown or expired.
    async fn refresh(&self, connection_id: &str, expires_at: SystemTime) -> Result<(), StoreError>;

    /// The live connections of a user.
    async fn user_connections(&self, user: &str) -> Result<Vec<Connection>, StoreError>;

    /// Adds a connection to a room (joining twice is fine). A [`StoreError::not_found`] error
    /// when the connection is unknown, expired or being deleted: a join never resurrects a
    /// disconnected connection.
    async fn join(&self, connection_id: &str, room: &str) -> Result<(), StoreError>;

    /// Saves a new connection already in the rooms its [`rooms`](Connection::rooms) names,
    /// all or nothing: what `$connect` does when its handler joined rooms. The default saves
    /// it, then joins each room, and removes it again if a join fails; a store may do it in one
    /// request (`DynamoDbStore` does, in one transaction).
    async fn save_joined(&self, connection: &Connection) -> Result<(), StoreError> {
        save_then_join(self, connection).await
    }

    /// Removes a connection from a room (leaving a room one is not in is fine).
    async fn leave(&self, connection_id: &str, room: &str) -> Result<(), StoreError>;

    /// The live members of a room, a page at a time.
    fn members<'a>(&'a self, room: &'a str) -> Pages<'a, Member>;

    /// One page of a room's live members: at most `limit`, starting after `cursor` (`None`: at
    /// the first member), with the cursor of the next page. A cursor is an opaque string that
    /// stays valid in another process, so another invocation can read on from it: fan-out hands
    /// the rest of a big room over through a queue this way (see [`fanout`](crate::fanout)).
    /// A page may hold fewer than `limit` members (even none) and still not be the last.
    async fn member_page(
        &self,
        room: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<MemberPage, StoreError>;

    /// Deletes many connections (and their memberships) at once, e.g. those API Gateway
    /// answered `410 Gone` for; their sessions are parked as by [`delete`](Self::delete).
    async fn remove_many(&self, connection_ids: &[String]) -> Result<(), StoreError>;

    /// The session with this id, unless it is unknown or expired. The default (a store
    /// without sessions) is an error.
    async fn session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let _ = id;
        Err(no_sessions())
    }

    /// Saves (or replaces) a session. The default (a store without sessions) is an error.
    async fn save_session(&self, session: &Session) -> Result<(), StoreError> {
        let _ = session;
        Err(no_sessions())
    }

    /// The next number of `room`'s history: 1 for its first broadcast, then one more each time,
    /// atomically across processes. The default (a store without history) is an error.
    async fn next_seq(&self, room: &str) -> Result<u64, StoreError> {
        let _ = room;
        Err(no_history())
    }

    /// Keeps a broadcast of `room` until its `expires_at`. The default is an error.
    async fn save_history(&self, room: &str, entry: &HistoryEntry) -> Result<(), StoreError> {
        let _ = (room, entry);
        Err(no_history())
    }

    /// `room`'s kept entries numbered after `after`, in order, at most `limit` of them, with
    /// the room's last number. The default is an error.
    async fn history(
        &self,
        room: &str,
        after: u64,
        limit: usize,
    ) -> Result<HistoryPage, StoreError> {
        let _ = (room, after, limit);
        Err(no_history())
    }

    /// Adds one to the counter `key` of the window that ends at `window_end` and answers its new
    /// value (1 for the first), atomically across processes; the counter is forgotten after
    /// its window. What [`MessageLimit`](crate::auth::MessageLimit) counts each user's messages
    /// with. The default (a store without counters) is an error.
    async fn count(&self, key: &str, window_end: SystemTime) -> Result<u64, StoreError> {
        let _ = (key, window_end);
        Err(no_counters())
    }

    /// Notes that `user` is in `room` through `connection_id` until `expires_at` (the
    /// connection's expiry), for presence ([`Settings::presence`](crate::Settings::presence));
    /// `true` when the user had no other live connection there: the user just joined. Atomic
    /// across processes: of two connections of one user joining at once, one is first. The
    /// default (a store without presence) is an error.
    async fn presence_join(
        &self,
        room: &str,
        user: &str,
        connection_id: &str,
        expires_at: SystemTime,
    ) -> Result<bool, StoreError> {
        let _ = (room, user, connection_id, expires_at);
        Err(no_presence())
    }

    /// Removes what [`presence_join`](Self::presence_join) noted; `true` when it was there and
    /// the user has no live connection left in `room`: the user just left. The default is an
    /// error.
    async fn presence_leave(
        &self,
        room: &str,
        user: &str,
        connection_id: &str,
    ) -> Result<bool, StoreError> {
        let _ = (room, user, connection_id);
        Err(no_presence())
    }

    /// The users present in `room` (with a live connection there), sorted. The default is an
    /// error.
    async fn presence_users(&self, room: &str) -> Result<Vec<String>, StoreError> {
        let _ = room;
        Err(no_presence())
    }

    /// Forgets, in every room, the connections whose expiry is past `now` (connections whose
    /// `$disconnect` never came); answers the `(room, user)` of each user who left by it. The
    /// default is an error.
    async fn presence_expire(&self, now: SystemTime) -> Result<Vec<(String, String)>, StoreError> {
        let _ = now;
        Err(no_presence())
    }

    /// Every live connection. Reads the whole store (a DynamoDB `Scan`): for small apps, tools
    /// and tests; use rooms to reach groups of connections.
    async fn list(&self) -> Result<Vec<Connection>, StoreError>;
}

/// Collects every page of a [`Pages`] stream, e.g. all of a room's members:
///
/// ```no_run
/// # use lift_runtime::prelude::*;
/// # async fn demo(ctx: &WsContext) -> WsResult {
/// let members = lift_runtime::store::collect(ctx.members("lobby")).await?;
/// # Ok(()) }
/// ```
pub async fn collect<T>(mut pages: Pages<'_, T>) -> Result<Vec<T>, StoreError> {
    use futures_util::StreamExt;
    let mut all = Vec::new();
    while let Some(page) = pages.next().await {
        all.extend(page?);
    }
    Ok(all)
}
