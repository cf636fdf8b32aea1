//! The conformance suite every `ConnectionStore` passes: `tests/store.rs` runs each check
//! against `MemoryStore` and against `DynamoDbStore` on a real DynamoDB-compatible server.
//! Stores are given with a page size of 3.

use std::time::{Duration, SystemTime};

use lift_runtime::store::{collect, Connection, ConnectionStore, Member};
use serde_json::json;

fn conn(id: &str, user: Option<&str>) -> Connection {
    let mut conn = Connection::new(id, SystemTime::now());
    conn.user = user.map(str::to_owned);
    conn
}

/// The ids of every live connection, sorted.
pub async fn live_ids(store: &dyn ConnectionStore) -> Vec<String> {
    store
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect()
}

/// The rooms recorded on a stored connection, sorted.
async fn rooms_of(store: &dyn ConnectionStore, id: &str) -> Vec<String> {
    let conn = store
        .get(id)
        .await
        .unwrap()
        .expect("the connection is stored");
    conn.rooms.into_iter().collect()
}

fn secs(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn ids(members: &[Member]) -> Vec<&str> {
    members.iter().map(|m| m.connection_id.as_str()).collect()
}

pub async fn saves_and_reads_back_a_connection(store: &dyn ConnectionStore) {
    let mut saved = conn("AAAAAAAAAAAAAAA=", Some("ana"));
    saved.metadata = json!({"name": "Ana", "claims": {"sub": "u-1", "admin": false}});
    store.save(&saved).await.unwrap();
    let read = store
        .get("AAAAAAAAAAAAAAA=")
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(read.id, saved.id);
    assert_eq!(read.user.as_deref(), Some("ana"));
    assert_eq!(read.metadata, saved.metadata);
    assert!(read.rooms.is_empty());
    let millis = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    };
    assert_eq!(millis(read.connected_at), millis(saved.connected_at));
    assert_eq!(secs(read.expires_at), secs(saved.expires_at));
    assert_eq!(store.get("unknown=").await.unwrap(), None);
}

pub async fn a_connection_without_user_or_metadata_round_trips(store: &dyn ConnectionStore) {
    store.save(&conn("bare=", None)).await.unwrap();
    let read = store.get("bare=").await.unwrap().expect("stored");
    assert_eq!(read.user, None);
    assert!(read.metadata.is_null());
}

pub async fn delete_removes_the_connection_and_its_memberships(store: &dyn ConnectionStore) {
    store.save(&conn("c1=", Some("ana"))).await.unwrap();
    store.save(&conn("c2=", Some("bob"))).await.unwrap();
    for room in ["red", "blue"] {
        store.join("c1=", room).await.unwrap();
        store.join("c2=", room).await.unwrap();
    }
    store.delete("c1=").await.unwrap();
    assert_eq!(store.get("c1=").await.unwrap(), None);
    for room in ["red", "blue"] {
        assert_eq!(ids(&collect(store.members(room)).await.unwrap()), ["c2="]);
    }
    // Deleting again, or an unknown id, is fine.
    store.delete("c1=").await.unwrap();
    store.delete("never=").await.unwrap();
}

pub async fn members_come_in_pages_with_their_users(store: &dyn ConnectionStore) {
    for i in 0..7 {
        let id = format!("m{i}=");
        store
            .save(&conn(&id, Some(&format!("user{i}"))))
            .await
            .unwrap();
        store.join(&id, "big").await.unwrap();
    }
    let mut pages = store.members("big");
    let mut sizes = Vec::new();
    let mut all = Vec::new();
    while let Some(page) = futures_util::StreamExt::next(&mut pages).await {
        let page = page.unwrap();
        sizes.push(page.len());
        all.extend(page);
    }
    assert_eq!(sizes, [3, 3, 1]);
    all.sort();
    assert_eq!(all.len(), 7);
    assert_eq!(
        all[0],
        Member {
            connection_id: "m0=".into(),
            user: Some("user0".into())
        }
    );
    assert!(collect(store.members("empty")).await.unwrap().is_empty());
}

/// Reading a room from cursors, as fan-out's consumers do: every live member once, in pages of
/// at most the limit, the last page without a cursor; expired members skipped.
pub async fn member_pages_read_on_from_cursors(store: &dyn ConnectionStore) {
    for i in 0..11 {
        let id = format!("p{i:02}=");
        store.save(&conn(&id, None)).await.unwrap();
        store.join(&id, "paged").await.unwrap();
    }
    store.save(&conn("p05x=", None)).await.unwrap();
    store.join("p05x=", "paged").await.unwrap();
    let past = SystemTime::now() - Duration::from_secs(1);
    store.refresh("p05x=", past).await.unwrap();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store
            .member_page("paged", cursor.as_deref(), 4)
            .await
            .unwrap();
        assert!(page.members.len() <= 4, "{page:?}");
        seen.extend(page.members.into_iter().map(|m| m.connection_id));
        pages += 1;
        assert!(pages < 20, "the cursor does not advance");
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    seen.sort();
    let expected: Vec<String> = (0..11).map(|i| format!("p{i:02}=")).collect();
    assert_eq!(seen, expected);
    let empty = store.member_page("nobody-here", None, 4).await.unwrap();
    assert!(empty.members.is_empty() && empty.next.is_none());
}

pub async fn join_is_idempotent_and_recorded_on_the_connection(store: &dyn ConnectionStore) {
    store.save(&conn("j=", None)).await.unwrap();
    store.join("j=", "lobby").await.unwrap();
    store.join("j=", "lobby").await.unwrap();
    store.join("j=", "games").await.unwrap();
    assert_eq!(ids(&collect(store.members("lobby")).await.unwrap()), ["j="]);
    assert_eq!(rooms_of(store, "j=").await, ["games", "lobby"]);
}

pub async fn save_joined_saves_the_connection_in_its_rooms(store: &dyn ConnectionStore) {
    let mut joined = conn("sj=", Some("ana"));
    joined.rooms = ["lobby".to_owned(), "games".to_owned()].into();
    store.save_joined(&joined).await.unwrap();
    assert_eq!(rooms_of(store, "sj=").await, ["games", "lobby"]);
    assert_eq!(
        collect(store.members("lobby")).await.unwrap(),
        [Member {
            connection_id: "sj=".into(),
            user: Some("ana".into())
        }]
    );
    assert_eq!(
        ids(&collect(store.members("games")).await.unwrap()),
        ["sj="]
    );
    assert_eq!(user_ids(store, "ana").await, ["sj="]);
    store.delete("sj=").await.unwrap();
    assert!(collect(store.members("lobby")).await.unwrap().is_empty());
    assert!(collect(store.members("games")).await.unwrap().is_empty());
}

async fn user_ids(store: &dyn ConnectionStore, user: &str) -> Vec<String> {
    let mut ids: Vec<String> = store
        .user_connections(user)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    ids.sort();
    ids
}

pub async fn leave_removes_one_membership(store: &dyn ConnectionStore) {
    store.save(&conn("l=", None)).await.unwrap();
    store.join("l=", "a").await.unwrap();
    store.join("l=", "b").await.unwrap();
    store.leave("l=", "a").await.unwrap();
    store.leave("l=", "never-joined").await.unwrap();
    store.leave("unknown=", "a").await.unwrap();
    assert!(collect(store.members("a")).await.unwrap().is_empty());
    assert_eq!(ids(&collect(store.members("b")).await.unwrap()), ["l="]);
    assert_eq!(rooms_of(store, "l=").await, ["b"]);
}

pub async fn join_never_resurrects_a_disconnected_connection(store: &dyn ConnectionStore) {
    let err = store.join("ghost=", "lobby").await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    store.save(&conn("gone=", None)).await.unwrap();
    store.delete("gone=").await.unwrap();
    let err = store.join("gone=", "lobby").await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(collect(store.members("lobby")).await.unwrap().is_empty());
    assert_eq!(store.get("gone=").await.unwrap(), None);
}

pub async fn expired_records_are_invisible_to_every_read(store: &dyn ConnectionStore) {
    // A record whose connection opened three hours ago is past API Gateway's 2 h maximum.
    let mut old = Connection::new("old=", SystemTime::now() - Duration::from_secs(3 * 3600));
    old.user = Some("ana".into());
    store.save(&old).await.unwrap();
    assert_eq!(store.get("old=").await.unwrap(), None);
    assert!(store.list().await.unwrap().is_empty());
    assert!(store.user_connections("ana").await.unwrap().is_empty());
    assert!(store
        .join("old=", "lobby")
        .await
        .unwrap_err()
        .is_not_found());

    // Memberships expire with their connection.
    store.save(&conn("live=", Some("bob"))).await.unwrap();
    store.join("live=", "lobby").await.unwrap();
    store
        .refresh("live=", SystemTime::now() - Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(store.get("live=").await.unwrap(), None);
    assert!(collect(store.members("lobby")).await.unwrap().is_empty());
    assert!(store.user_connections("bob").await.unwrap().is_empty());
}

pub async fn refresh_moves_the_expiry(store: &dyn ConnectionStore) {
    store.save(&conn("r=", None)).await.unwrap();
    store.join("r=", "lobby").await.unwrap();
    let later = SystemTime::now() + Duration::from_secs(5 * 3600);
    store.refresh("r=", later).await.unwrap();
    assert_eq!(
        secs(store.get("r=").await.unwrap().unwrap().expires_at),
        secs(later)
    );
    assert_eq!(ids(&collect(store.members("lobby")).await.unwrap()), ["r="]);
    assert!(store
        .refresh("unknown=", later)
        .await
        .unwrap_err()
        .is_not_found());
}

pub async fn user_connections_finds_every_live_connection_of_a_user(store: &dyn ConnectionStore) {
    store.save(&conn("u1=", Some("ana"))).await.unwrap();
    store.save(&conn("u2=", Some("ana"))).await.unwrap();
    store.save(&conn("u3=", Some("bob"))).await.unwrap();
    store.save(&conn("u4=", None)).await.unwrap();
    let ana: Vec<String> = store
        .user_connections("ana")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ana, ["u1=", "u2="]);
    assert!(store.user_connections("nobody").await.unwrap().is_empty());
    store.delete("u1=").await.unwrap();
    assert_eq!(store.user_connections("ana").await.unwrap().len(), 1);
}

pub async fn remove_many_removes_connections_and_memberships(store: &dyn ConnectionStore) {
    for i in 0..30 {
        let id = format!("s{i:02}=");
        store.save(&conn(&id, None)).await.unwrap();
        store.join(&id, "lobby").await.unwrap();
    }
    let stale: Vec<String> = (0..28).map(|i| format!("s{i:02}=")).collect();
    store.remove_many(&stale).await.unwrap();
    assert_eq!(live_ids(store).await, ["s28=", "s29="]);
    assert_eq!(
        ids(&collect(store.members("lobby")).await.unwrap()),
        ["s28=", "s29="]
    );
    store.remove_many(&[]).await.unwrap();
    store.remove_many(&["unknown=".to_owned()]).await.unwrap();
}

pub async fn list_returns_every_live_connection(store: &dyn ConnectionStore) {
    for id in ["b=", "a=", "c="] {
        store.save(&conn(id, None)).await.unwrap();
    }
    store.join("a=", "lobby").await.unwrap();
    assert_eq!(live_ids(store).await, ["a=", "b=", "c="]);
}

fn session(id: &str, connection: &str, user: Option<&str>) -> lift_runtime::store::Session {
    lift_runtime::store::Session {
        id: id.to_owned(),
        user: user.map(str::to_owned),
        connection_id: connection.to_owned(),
        rooms: ["$everyone".to_owned()].into(),
        metadata: serde_json::Value::Null,
        parked: false,
        expires_at: SystemTime::now() + Duration::from_secs(600),
    }
}

/// A connection `id` of session `sid`, in `rooms`.
async fn session_connection(store: &dyn ConnectionStore, id: &str, sid: &str, rooms: &[&str]) {
    let mut conn = conn(id, Some("ana"));
    conn.session = Some(sid.to_owned());
    conn.metadata = json!({"device": "phone"});
    store.save(&conn).await.unwrap();
    for room in rooms {
        store.join(id, room).await.unwrap();
    }
}

pub async fn sessions_round_trip_and_expire(store: &dyn ConnectionStore) {
    let mut saved = session("session-0123456789", "s1=", Some("ana"));
    saved.metadata = json!({"device": "phone"});
    store.save_session(&saved).await.unwrap();
    let read = store.session("session-0123456789").await.unwrap().unwrap();
    assert_eq!(read.user.as_deref(), Some("ana"));
    assert_eq!(read.connection_id, "s1=");
    assert_eq!(read.rooms, saved.rooms);
    assert_eq!(read.metadata, saved.metadata);
    assert!(!read.parked);
    assert_eq!(secs(read.expires_at), secs(saved.expires_at));
    // Saving replaces.
    let mut replaced = saved.clone();
    replaced.connection_id = "s2=".into();
    replaced.rooms.clear();
    replaced.user = None;
    store.save_session(&replaced).await.unwrap();
    let read = store.session("session-0123456789").await.unwrap().unwrap();
    assert_eq!((read.connection_id.as_str(), read.rooms.len()), ("s2=", 0));
    assert_eq!(read.user, None);
    // Unknown and expired sessions are not found.
    assert!(store.session("no-such-session-00").await.unwrap().is_none());
    let mut expired = session("session-expired-00", "s3=", None);
    expired.expires_at = SystemTime::now() - Duration::from_secs(1);
    store.save_session(&expired).await.unwrap();
    assert!(store.session("session-expired-00").await.unwrap().is_none());
}

pub async fn deleting_a_sessions_connection_parks_its_rooms(store: &dyn ConnectionStore) {
    store
        .save_session(&session("session-parked-0001", "p1=", Some("ana")))
        .await
        .unwrap();
    session_connection(store, "p1=", "session-parked-0001", &["lobby", "games"]).await;
    store.delete("p1=").await.unwrap();
    let parked = store.session("session-parked-0001").await.unwrap().unwrap();
    assert!(parked.parked);
    assert_eq!(parked.connection_id, "p1=");
    assert_eq!(
        parked.rooms.iter().map(String::as_str).collect::<Vec<_>>(),
        ["games", "lobby"]
    );
    assert_eq!(parked.metadata, json!({"device": "phone"}));
    assert_eq!(parked.user.as_deref(), Some("ana"));
    assert!(store.get("p1=").await.unwrap().is_none());
}

pub async fn a_session_that_moved_on_is_not_parked_by_its_old_connection(
    store: &dyn ConnectionStore,
) {
    // The session was resumed by `m2=`: the old connection's removal keeps nothing.
    session_connection(store, "m1=", "session-moved-00001", &["old-room"]).await;
    store
        .save_session(&session("session-moved-00001", "m2=", Some("ana")))
        .await
        .unwrap();
    store.delete("m1=").await.unwrap();
    let current = store.session("session-moved-00001").await.unwrap().unwrap();
    assert!(!current.parked);
    assert_eq!(current.connection_id, "m2=");
    assert_eq!(
        current.rooms.iter().map(String::as_str).collect::<Vec<_>>(),
        ["$everyone"]
    );
}

pub async fn remove_many_parks_the_sessions_of_gone_connections(store: &dyn ConnectionStore) {
    for (id, sid) in [
        ("g1=", "session-gone-000001"),
        ("g2=", "session-gone-000002"),
    ] {
        store
            .save_session(&session(sid, id, Some("ana")))
            .await
            .unwrap();
        session_connection(store, id, sid, &["lobby"]).await;
    }
    store.save(&conn("g3=", None)).await.unwrap();
    store
        .remove_many(&["g1=".to_owned(), "g2=".to_owned(), "g3=".to_owned()])
        .await
        .unwrap();
    for sid in ["session-gone-000001", "session-gone-000002"] {
        let parked = store.session(sid).await.unwrap().unwrap();
        assert!(parked.parked, "{sid}");
        assert_eq!(
            parked.rooms.iter().map(String::as_str).collect::<Vec<_>>(),
            ["lobby"]
        );
    }
    assert!(live_ids(store).await.is_empty());
}

fn entry(seq: u64, text: &str) -> lift_runtime::store::HistoryEntry {
    lift_runtime::store::HistoryEntry {
        seq,
        frame: format!(r#"{{"text":"{text}","room":"r","seq":{seq}}}"#),
        expires_at: SystemTime::now() + Duration::from_secs(60),
    }
}

/// Room history: numbers per room from 1, entries read back in order after a number, a page
/// at a time, with the room's last number; expired entries invisible.
pub async fn history_is_numbered_per_room_and_read_in_order(store: &dyn ConnectionStore) {
    assert_eq!(store.history("quiet", 0, 10).await.unwrap().last, 0);
    let mut seqs = Vec::new();
    for _ in 0..5 {
        seqs.push(store.next_seq("hist-a").await.unwrap());
    }
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    assert_eq!(
        store.next_seq("hist-b").await.unwrap(),
        1,
        "numbers are per room"
    );
    // Saved out of order (concurrent broadcasts), read in order; 3 was never saved (a failed
    // write), 4 has expired.
    for seq in [2, 1, 5] {
        store
            .save_history("hist-a", &entry(seq, &format!("m{seq}")))
            .await
            .unwrap();
    }
    let mut expired = entry(4, "m4");
    expired.expires_at = SystemTime::now() - Duration::from_secs(1);
    store.save_history("hist-a", &expired).await.unwrap();
    let page = store.history("hist-a", 0, 10).await.unwrap();
    assert_eq!(page.last, 5);
    let read: Vec<u64> = page.entries.iter().map(|e| e.seq).collect();
    assert_eq!(read, [1, 2, 5]);
    assert_eq!(
        page.entries[0],
        entry(1, "m1").with_expiry(page.entries[0].expires_at)
    );
    // Kept to the second (DynamoDB's TTL is in seconds): a second may begin between the save
    // and this `entry`.
    let (kept, expected) = (
        secs(page.entries[0].expires_at),
        secs(entry(1, "").expires_at),
    );
    assert!(
        kept == expected || kept + 1 == expected,
        "kept until {kept}, expected {expected}"
    );
    // After a number, at most `limit`.
    let page = store.history("hist-a", 1, 1).await.unwrap();
    assert_eq!(page.entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [2]);
    assert_eq!(page.last, 5);
    let page = store.history("hist-a", 5, 10).await.unwrap();
    assert!(page.entries.is_empty());
    assert_eq!(page.last, 5);
    // The other room has its own.
    assert!(store
        .history("hist-b", 0, 10)
        .await
        .unwrap()
        .entries
        .is_empty());
}

/// Many broadcasts numbered at once get distinct numbers, none skipped.
pub async fn history_numbers_are_distinct_under_concurrency(store: &dyn ConnectionStore) {
    let numbers = futures_util::future::join_all((0..40).map(|_| store.next_seq("busy"))).await;
    let mut numbers: Vec<u64> = numbers.into_iter().map(Result::unwrap).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=40).collect::<Vec<_>>());
}

/// Counters count per key and per window: each window from 1, each key apart.
pub async fn counters_count_per_key_and_window(store: &dyn ConnectionStore) {
    let window = SystemTime::now() + Duration::from_secs(60);
    for expected in 1..=3 {
        assert_eq!(store.count("messages:ana", window).await.unwrap(), expected);
    }
    assert_eq!(store.count("messages:bob", window).await.unwrap(), 1);
    // The next window starts from nothing.
    let next = window + Duration::from_secs(60);
    assert_eq!(store.count("messages:ana", next).await.unwrap(), 1);
    assert_eq!(store.count("messages:ana", next).await.unwrap(), 2);
}

/// Presence counts users, not connections: a user's first connection in a room joins them, their
/// last one's leave makes them leave, each once.
pub async fn presence_counts_users_not_connections(store: &dyn ConnectionStore) {
    let later = SystemTime::now() + Duration::from_secs(600);
    let join = |user: &'static str, id: &'static str| store.presence_join("r", user, id, later);
    assert!(join("ana", "a1=").await.unwrap(), "ana's first connection");
    assert!(!join("ana", "a2=").await.unwrap(), "ana's second");
    assert!(!join("ana", "a1=").await.unwrap(), "the first again");
    assert!(join("bob", "b1=").await.unwrap());
    assert_eq!(store.presence_users("r").await.unwrap(), ["ana", "bob"]);
    assert!(store.presence_users("other").await.unwrap().is_empty());
    let leave = |user: &'static str, id: &'static str| store.presence_leave("r", user, id);
    assert!(!leave("ana", "a1=").await.unwrap(), "a2 is still there");
    assert!(!leave("ana", "a1=").await.unwrap(), "not there any more");
    assert!(!leave("eve", "e1=").await.unwrap(), "never there");
    assert!(leave("ana", "a2=").await.unwrap(), "ana's last");
    assert_eq!(store.presence_users("r").await.unwrap(), ["bob"]);
    assert!(join("ana", "a3=").await.unwrap(), "ana back");
}

/// Connections whose `$disconnect` never came leave presence once their expiry is past, once.
pub async fn presence_expires_connections_whose_disconnect_never_came(store: &dyn ConnectionStore) {
    let now = SystemTime::now();
    let soon = now + Duration::from_secs(60);
    let later = now + Duration::from_secs(3600);
    store
        .presence_join("r", "ghost", "g1=", soon)
        .await
        .unwrap();
    store.presence_join("r", "ana", "a1=", soon).await.unwrap();
    store.presence_join("r", "ana", "a2=", later).await.unwrap();
    store
        .presence_join("s", "ghost", "g1=", soon)
        .await
        .unwrap();
    assert!(store.presence_expire(now).await.unwrap().is_empty());
    let after = soon + Duration::from_secs(120);
    let left = store.presence_expire(after).await.unwrap();
    let expected = [("r", "ghost"), ("s", "ghost")].map(|(r, u)| (r.to_owned(), u.to_owned()));
    assert_eq!(left, expected, "ana still has a2");
    assert!(
        store.presence_expire(after).await.unwrap().is_empty(),
        "once"
    );
    // ana's expired connection is gone: her last live one's leave makes her leave.
    assert!(store.presence_leave("r", "ana", "a2=").await.unwrap());
}

/// A connection whose expiry moves keeps its presence as long.
pub async fn presence_follows_a_refreshed_connection(store: &dyn ConnectionStore) {
    let now = SystemTime::now();
    let soon = now + Duration::from_secs(60);
    store.save(&conn("p=", Some("ana"))).await.unwrap();
    store.join("p=", "lobby").await.unwrap();
    store
        .presence_join("lobby", "ana", "p=", soon)
        .await
        .unwrap();
    store
        .refresh("p=", now + Duration::from_secs(3 * 3600))
        .await
        .unwrap();
    let after = soon + Duration::from_secs(120);
    assert!(store.presence_expire(after).await.unwrap().is_empty());
    assert_eq!(store.presence_users("lobby").await.unwrap(), ["ana"]);
}

trait WithExpiry {
    fn with_expiry(self, at: SystemTime) -> Self;
}

impl WithExpiry for lift_runtime::store::HistoryEntry {
    fn with_expiry(mut self, at: SystemTime) -> Self {
        self.expires_at = at;
        self
    }
}
