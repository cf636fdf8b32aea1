use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use async_trait::async_trait;
use futures_util::StreamExt;

use super::{
    Connection, ConnectionStore, HistoryEntry, HistoryPage, Member, MemberPage, Pages, Session,
    DEFAULT_PAGE_SIZE,
};
use crate::error::StoreError;

/// Connections in memory: the default for the local emulator and tests.
///
/// Cloning shares the same connections. In Lambda each instance has its own memory, so use a
/// shared store (`DynamoDbStore`) there.
///
/// ```
/// use lift_runtime::store::{Connection, ConnectionStore, MemoryStore};
/// use std::time::SystemTime;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// store.save(&Connection::new("abc=", SystemTime::now())).await.unwrap();
/// store.join("abc=", "lobby").await.unwrap();
/// assert_eq!(store.get("abc=").await.unwrap().unwrap().rooms.len(), 1);
/// store.delete("abc=").await.unwrap();
/// assert!(store.list().await.unwrap().is_empty());
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
    page_size: usize,
}

#[derive(Debug, Default)]
struct Inner {
    connections: HashMap<String, Connection>,
    /// room => connection id => user
    rooms: HashMap<String, BTreeMap<String, Option<String>>>,
    sessions: HashMap<String, Session>,
    /// How many sessions the last sweep of expired ones left: the next sweep comes when there
    /// are twice as many (so saving a session costs no scan of them all).
    sessions_swept: usize,
    /// room => its last number and its kept entries, in order.
    history: HashMap<String, (u64, std::collections::VecDeque<HistoryEntry>)>,
    /// room => user => connection id => its expiry: who is present.
    presence: HashMap<String, HashMap<String, HashMap<String, SystemTime>>>,
    /// key => the end of its current window and its count there.
    counters: HashMap<String, (SystemTime, u64)>,
    /// How many counters the last sweep of ended windows left (swept as `sessions` are).
    counters_swept: usize,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            inner: Arc::default(),
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Pages of [`members`](ConnectionStore::members) hold at most `page_size` members.
    pub fn page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size.max(1);
        self
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        // Every update below completes under the lock, so a poisoned lock holds consistent data.
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut inner)
    }
}

impl Inner {
    fn live(&self, id: &str, now: SystemTime) -> Option<&Connection> {
        self.connections
            .get(id)
            .filter(|conn| !conn.is_expired(now))
    }

    /// Removes a connection for good: its session, if it is the session's connection, keeps
    /// its rooms and metadata (parked).
    fn remove_parking(&mut self, id: &str) {
        if let Some(conn) = self.connections.get(id) {
            let parked = conn
                .session
                .as_ref()
                .and_then(|sid| self.sessions.get(sid))
                .and_then(|session| Session::parked_from(session, conn));
            if let Some(parked) = parked {
                self.sessions.insert(parked.id.clone(), parked);
            }
        }
        self.remove(id);
    }

    fn remove(&mut self, id: &str) {
        if let Some(conn) = self.connections.remove(id) {
            for room in &conn.rooms {
                if let Some(members) = self.rooms.get_mut(room) {
                    members.remove(id);
                    if members.is_empty() {
                        self.rooms.remove(room);
                    }
                }
            }
        }
    }
}

#[async_trait]
impl ConnectionStore for MemoryStore {
    async fn save(&self, connection: &Connection) -> Result<(), StoreError> {
        self.with(|inner| {
            inner.remove(&connection.id);
            for room in &connection.rooms {
                inner
                    .rooms
                    .entry(room.clone())
                    .or_default()
                    .insert(connection.id.clone(), connection.user.clone());
            }
            inner
                .connections
                .insert(connection.id.clone(), connection.clone());
        });
        Ok(())
    }

    async fn get(&self, connection_id: &str) -> Result<Option<Connection>, StoreError> {
        let now = SystemTime::now();
        Ok(self.with(|inner| inner.live(connection_id, now).cloned()))
    }

    async fn delete(&self, connection_id: &str) -> Result<(), StoreError> {
        self.with(|inner| inner.remove_parking(connection_id));
        Ok(())
    }

    async fn refresh(&self, connection_id: &str, expires_at: SystemTime) -> Result<(), StoreError> {
        let now = SystemTime::now();
        self.with(|inner| {
            if inner.live(connection_id, now).is_none() {
                return Err(StoreError::not_found(connection_id));
            }
            if let Some(conn) = inner.connections.get_mut(connection_id) {
                conn.expires_at = expires_at;
                // Its presence lasts as long.
                if let Some(user) = &conn.user {
                    for room in &conn.rooms {
                        let entry = inner
                            .presence
                            .get_mut(room)
                            .and_then(|users| users.get_mut(user))
                            .and_then(|entries| entries.get_mut(connection_id));
                        if let Some(until) = entry {
                            *until = expires_at;
                        }
                    }
                }
            }
            Ok(())
        })
    }

    async fn user_connections(&self, user: &str) -> Result<Vec<Connection>, StoreError> {
        let now = SystemTime::now();
        Ok(self.with(|inner| {
            let mut found: Vec<Connection> = inner
                .connections
                .values()
                .filter(|conn| !conn.is_expired(now) && conn.user.as_deref() == Some(user))
                .cloned()
                .collect();
            found.sort_by(|a, b| a.id.cmp(&b.id));
            found
        }))
    }

    async fn join(&self, connection_id: &str, room: &str) -> Result<(), StoreError> {
        let now = SystemTime::now();
        self.with(|inner| {
            let user = match inner.live(connection_id, now) {
                Some(conn) => conn.user.clone(),
                None => return Err(StoreError::not_found(connection_id)),
            };
            if let Some(conn) = inner.connections.get_mut(connection_id) {
                conn.rooms.insert(room.to_owned());
            }
            inner
                .rooms
                .entry(room.to_owned())
                .or_default()
                .insert(connection_id.to_owned(), user);
            Ok(())
        })
    }

    async fn leave(&self, connection_id: &str, room: &str) -> Result<(), StoreError> {
        self.with(|inner| {
            if let Some(conn) = inner.connections.get_mut(connection_id) {
                conn.rooms.remove(room);
            }
            if let Some(members) = inner.rooms.get_mut(room) {
                members.remove(connection_id);
                if members.is_empty() {
                    inner.rooms.remove(room);
                }
            }
        });
        Ok(())
    }

    fn members<'a>(&'a self, room: &'a str) -> Pages<'a, Member> {
        let now = SystemTime::now();
        let members: Vec<Member> = self.with(|inner| {
            let Some(members) = inner.rooms.get(room) else {
                return Vec::new();
            };
            members
                .iter()
                .filter(|(id, _)| inner.live(id, now).is_some())
                .map(|(id, user)| Member {
                    connection_id: id.clone(),
                    user: user.clone(),
                })
                .collect()
        });
        let pages: Vec<Result<Vec<Member>, StoreError>> = members
            .chunks(self.page_size)
            .map(|page| Ok(page.to_vec()))
            .collect();
        futures_util::stream::iter(pages).boxed()
    }

    async fn member_page(
        &self,
        room: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<MemberPage, StoreError> {
        use std::ops::Bound;
        let now = SystemTime::now();
        let limit = limit.max(1);
        Ok(self.with(|inner| {
            let Some(members) = inner.rooms.get(room) else {
                return MemberPage::default();
            };
            let from = match cursor {
                Some(cursor) => Bound::Excluded(cursor.to_owned()),
                None => Bound::Unbounded,
            };
            let mut live = members
                .range((from, Bound::Unbounded))
                .filter(|(id, _)| inner.live(id, now).is_some());
            let page: Vec<Member> = live
                .by_ref()
                .take(limit)
                .map(|(id, user)| Member {
                    connection_id: id.clone(),
                    user: user.clone(),
                })
                .collect();
            let next = match live.next() {
                Some(_) => page.last().map(|member| member.connection_id.clone()),
                None => None,
            };
            MemberPage {
                members: page,
                next,
            }
        }))
    }

    async fn remove_many(&self, connection_ids: &[String]) -> Result<(), StoreError> {
        self.with(|inner| {
            for id in connection_ids {
                inner.remove_parking(id);
            }
        });
        Ok(())
    }

    async fn session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let now = SystemTime::now();
        Ok(self.with(|inner| {
            inner
                .sessions
                .get(id)
                .filter(|session| session.expires_at > now)
                .cloned()
        }))
    }

    async fn save_session(&self, session: &Session) -> Result<(), StoreError> {
        let now = SystemTime::now();
        self.with(|inner| {
            // Expired sessions go as new ones are saved, in sweeps that grow with the map: it
            // does not grow for ever, and a save scans every session only now and then.
            if inner.sessions.len() >= (2 * inner.sessions_swept).max(64) {
                inner.sessions.retain(|_, kept| kept.expires_at > now);
                inner.sessions_swept = inner.sessions.len();
            }
            inner.sessions.insert(session.id.clone(), session.clone());
        });
        Ok(())
    }

    async fn presence_join(
        &self,
        room: &str,
        user: &str,
        connection_id: &str,
        expires_at: SystemTime,
    ) -> Result<bool, StoreError> {
        let now = SystemTime::now();
        Ok(self.with(|inner| {
            let entries = inner
                .presence
                .entry(room.to_owned())
                .or_default()
                .entry(user.to_owned())
                .or_default();
            // Connections long gone count no more (the sweep would remove them).
            entries.retain(|_, until| *until > now);
            let first = entries.is_empty();
            entries.insert(connection_id.to_owned(), expires_at);
            first
        }))
    }

    async fn presence_leave(
        &self,
        room: &str,
        user: &str,
        connection_id: &str,
    ) -> Result<bool, StoreError> {
        let now = SystemTime::now();
        Ok(self.with(|inner| {
            let Some(users) = inner.presence.get_mut(room) else {
                return false;
            };
            let Some(entries) = users.get_mut(user) else {
                return false;
            };
            let removed = entries.remove(connection_id).is_some();
            let last = removed && !entries.values().any(|until| *until > now);
            if entries.is_empty() {
                users.remove(user);
                if users.is_empty() {
                    inner.presence.remove(room);
                }
            }
            last
        }))
    }

    async fn presence_users(&self, room: &str) -> Result<Vec<String>, StoreError> {
        let now = SystemTime::now();
        Ok(self.with(|inner| {
            let mut users: Vec<String> = inner
                .presence
                .get(room)
                .into_iter()
                .flatten()
                .filter(|(_, entries)| entries.values().any(|until| *until > now))
                .map(|(user, _)| user.clone())
                .collect();
            users.sort_unstable();
            users
        }))
    }

    async fn presence_expire(&self, now: SystemTime) -> Result<Vec<(String, String)>, StoreError> {
        Ok(self.with(|inner| {
            let mut left = Vec::new();
            for (room, users) in &mut inner.presence {
                for (user, entries) in users.iter_mut() {
                    let before = entries.len();
                    entries.retain(|_, until| *until > now);
                    if entries.len() < before && entries.is_empty() {
                        left.push((room.clone(), user.clone()));
                    }
                }
                users.retain(|_, entries| !entries.is_empty());
            }
            inner.presence.retain(|_, users| !users.is_empty());
            left.sort_unstable();
            left
        }))
    }

    async fn count(&self, key: &str, window_end: SystemTime) -> Result<u64, StoreError> {
        let now = SystemTime::now();
        Ok(self.with(|inner| {
            if inner.counters.len() >= (2 * inner.counters_swept).max(1024) {
                inner.counters.retain(|_, (end, _)| *end > now);
                inner.counters_swept = inner.counters.len();
            }
            let (end, count) = inner
                .counters
                .entry(key.to_owned())
                .or_insert((window_end, 0));
            if *end != window_end {
                (*end, *count) = (window_end, 0);
            }
            *count += 1;
            *count
        }))
    }

    async fn next_seq(&self, room: &str) -> Result<u64, StoreError> {
        Ok(self.with(|inner| {
            let (last, _) = inner.history.entry(room.to_owned()).or_default();
            *last += 1;
            *last
        }))
    }

    async fn save_history(&self, room: &str, entry: &HistoryEntry) -> Result<(), StoreError> {
        let now = SystemTime::now();
        self.with(|inner| {
            let (_, entries) = inner.history.entry(room.to_owned()).or_default();
            // Expired entries go as new ones come: a room's history does not grow for ever.
            while entries.front().is_some_and(|e| e.expires_at <= now) {
                entries.pop_front();
            }
            // In order of `seq`, whatever order concurrent broadcasts saved them in.
            let at = entries.partition_point(|e| e.seq < entry.seq);
            if entries.get(at).is_none_or(|e| e.seq != entry.seq) {
                entries.insert(at, entry.clone());
            }
        });
        Ok(())
    }

    async fn history(
        &self,
        room: &str,
        after: u64,
        limit: usize,
    ) -> Result<HistoryPage, StoreError> {
        let now = SystemTime::now();
        Ok(self.with(|inner| match inner.history.get(room) {
            None => HistoryPage::default(),
            Some((last, entries)) => {
                let from = entries.partition_point(|e| e.seq <= after);
                HistoryPage {
                    entries: entries
                        .range(from..)
                        .filter(|e| e.expires_at > now)
                        .take(limit)
                        .cloned()
                        .collect(),
                    last: *last,
                }
            }
        }))
    }

    async fn list(&self) -> Result<Vec<Connection>, StoreError> {
        let now = SystemTime::now();
        Ok(self.with(|inner| {
            let mut all: Vec<Connection> = inner
                .connections
                .values()
                .filter(|conn| !conn.is_expired(now))
                .cloned()
                .collect();
            all.sort_by(|a, b| a.id.cmp(&b.id));
            all
        }))
    }
}
