use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use async_trait::async_trait;

use super::{Connection, ConnectionStore};
use crate::error::StoreError;

/// Connections in memory: the default for the local emulator and tests.
///
/// Cloning shares the same connections. In Lambda each instance has its own memory, so use a
/// shared store (DynamoDB) there.
///
/// ```
/// use lift_runtime::store::{Connection, ConnectionStore, MemoryStore};
/// use std::time::SystemTime;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// store.save(&Connection::new("abc=", SystemTime::now())).await.unwrap();
/// assert!(store.get("abc=").await.unwrap().is_some());
/// store.delete("abc=").await.unwrap();
/// assert!(store.list().await.unwrap().is_empty());
/// # });
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    connections: Arc<Mutex<HashMap<String, Connection>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, Connection>) -> R) -> R {
        // A panic elsewhere cannot leave a map half-updated: every update is one insert/remove.
        let mut map = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&mut map)
    }
}

#[async_trait]
impl ConnectionStore for MemoryStore {
    async fn save(&self, connection: &Connection) -> Result<(), StoreError> {
        self.with(|map| map.insert(connection.id.clone(), connection.clone()));
        Ok(())
    }

    async fn get(&self, connection_id: &str) -> Result<Option<Connection>, StoreError> {
        let now = SystemTime::now();
        Ok(self.with(|map| {
            map.get(connection_id)
                .filter(|conn| !conn.is_expired(now))
                .cloned()
        }))
    }

    async fn delete(&self, connection_id: &str) -> Result<(), StoreError> {
        self.with(|map| map.remove(connection_id));
        Ok(())
    }

    async fn list(&self) -> Result<Vec<Connection>, StoreError> {
        let now = SystemTime::now();
        Ok(self.with(|map| {
            map.values()
                .filter(|conn| !conn.is_expired(now))
                .cloned()
                .collect()
        }))
    }
}
