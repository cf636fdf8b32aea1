//! Where connections are kept: the [`ConnectionStore`] trait and its implementations.
//!
//! The runtime manages connections itself: after a **successful** `$connect` it saves a
//! [`Connection`] (with the user and metadata the connect handler set), and on `$disconnect` it
//! deletes it. Handlers read the caller's record lazily with
//! [`WsContext::connection`](crate::WsContext::connection).

mod memory;

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use memory::MemoryStore;

use crate::error::StoreError;

/// API Gateway closes every WebSocket connection after 2 hours.
pub const MAX_CONNECTION_LIFETIME: Duration = Duration::from_secs(2 * 60 * 60);

/// Extra time a record is kept after the maximum connection lifetime before it counts as
/// expired, so a record is never dropped while API Gateway may still deliver its `$disconnect`.
pub const EXPIRY_SLACK: Duration = Duration::from_secs(10 * 60);

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
}

impl Connection {
    /// A record for `id`, opened at `connected_at`, expiring after API Gateway's maximum
    /// connection lifetime plus [`EXPIRY_SLACK`].
    pub fn new(id: impl Into<String>, connected_at: SystemTime) -> Self {
        Connection {
            id: id.into(),
            user: None,
            metadata: serde_json::Value::Null,
            connected_at,
            expires_at: connected_at + MAX_CONNECTION_LIFETIME + EXPIRY_SLACK,
        }
    }

    /// Whether the record has expired at `now`.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.expires_at <= now
    }
}

/// Keeps connections. Implemented by [`MemoryStore`]; implement it to keep them elsewhere.
#[async_trait]
pub trait ConnectionStore: Send + Sync + 'static {
    /// Saves (or replaces) a connection.
    async fn save(&self, connection: &Connection) -> Result<(), StoreError>;

    /// The connection with this id, unless it is unknown or expired.
    async fn get(&self, connection_id: &str) -> Result<Option<Connection>, StoreError>;

    /// Deletes a connection; deleting an unknown id is not an error.
    async fn delete(&self, connection_id: &str) -> Result<(), StoreError>;

    /// Every live (not expired) connection.
    async fn list(&self) -> Result<Vec<Connection>, StoreError>;
}
