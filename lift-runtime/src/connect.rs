//! What a `$connect` handler writes back: the user, metadata and verified claims saved with
//! the connection, the rooms it joins, and the headers of the handshake's answer. After a
//! successful `$connect` the [`Service`](crate::Service) hands it to [`Connecting::save`].

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::error::StoreError;
use crate::store::{Connection, ConnectionStore};

/// The write-back of one `$connect` event.
#[derive(Debug, Default)]
pub(crate) struct Connecting {
    user: Option<String>,
    metadata: Value,
    claims: Option<Value>,
    /// Behind a lock: handlers join rooms through `&WsContext`.
    rooms: Mutex<Vec<String>>,
    response_headers: Vec<(&'static str, String)>,
    /// The record expires by then at the latest (a token's `exp`).
    expires_by: Option<SystemTime>,
}

impl Connecting {
    pub(crate) fn set_user(&mut self, user: String) {
        self.user = Some(user);
    }

    pub(crate) fn set_metadata(&mut self, metadata: Value) {
        self.metadata = metadata;
    }

    pub(crate) fn set_claims(&mut self, claims: Value) {
        self.claims = Some(claims);
    }

    pub(crate) fn claims(&self) -> Option<&Value> {
        self.claims.as_ref()
    }

    /// The record expires by `at` at the latest.
    #[cfg(feature = "jwt")]
    pub(crate) fn expire_by(&mut self, at: SystemTime) {
        self.expires_by = Some(self.expires_by.map_or(at, |by| by.min(at)));
    }

    pub(crate) fn set_response_header(&mut self, name: &'static str, value: String) {
        self.response_headers.push((name, value));
    }

    /// Who the connection belongs to, for its session: the user the handler set, else the
    /// verified token's subject.
    pub(crate) fn owner(&self) -> Option<String> {
        self.user.clone().or_else(|| {
            self.claims
                .as_ref()?
                .get("sub")?
                .as_str()
                .map(str::to_owned)
        })
    }

    /// Takes over what a session kept: its rooms (beside those the handler joined) and its
    /// metadata, unless the handler set its own.
    pub(crate) fn resume(&mut self, rooms: impl IntoIterator<Item = String>, metadata: Value) {
        for room in rooms {
            self.join(&room);
        }
        if self.metadata.is_null() {
            self.metadata = metadata;
        }
    }

    fn rooms(&self) -> MutexGuard<'_, Vec<String>> {
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Joins `room` once the connection is saved.
    pub(crate) fn join(&self, room: &str) {
        let mut rooms = self.rooms();
        if !rooms.iter().any(|r| r == room) {
            rooms.push(room.to_owned());
        }
    }

    /// No longer joins `room`.
    pub(crate) fn leave(&self, room: &str) {
        self.rooms().retain(|r| r != room);
    }

    /// The record of the connection `id`, opened at `connected_at` and kept for `ttl` from now
    /// (never less: an event whose `connectedAt` is stale, such as AWS's sample events replayed
    /// years later, must not make a record that is expired before it is stored), with what the
    /// handler set; and the headers for the handshake's answer. [`store`] saves it.
    pub(crate) fn into_record(
        self,
        id: &str,
        connected_at: SystemTime,
        ttl: Duration,
        session: Option<String>,
    ) -> (Vec<(&'static str, String)>, Connection) {
        let mut metadata = self.metadata;
        if let Some(claims) = self.claims {
            match &mut metadata {
                Value::Object(map) => {
                    map.insert("claims".to_owned(), claims);
                }
                _ => metadata = serde_json::json!({ "claims": claims }),
            }
        }
        let mut connection = Connection::new(id, connected_at);
        connection.expires_at = connected_at.max(SystemTime::now()) + ttl;
        if let Some(by) = self.expires_by {
            connection.expires_at = connection.expires_at.min(by);
        }
        connection.user = self.user;
        connection.metadata = metadata;
        connection.session = session;
        connection.rooms = self
            .rooms
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .into_iter()
            .collect();
        (self.response_headers, connection)
    }
}

/// Saves a new connection, then joins its rooms. If a room cannot be joined the connection is
/// removed again (half a connection is worse than none) and the error returned.
pub(crate) async fn store(
    store: &dyn ConnectionStore,
    connection: &Connection,
) -> Result<(), StoreError> {
    if connection.rooms.is_empty() {
        store.save(connection).await
    } else {
        store.save_joined(connection).await
    }
}
