//! Sessions that outlive connections, with real WebSocket clients on the emulator running the
//! chat: a client that reconnects with the same `?session=ID` is back in its rooms, whether its
//! old socket was dropped, closed, or is still open (then it is closed); another user cannot
//! take a session over; an expired session starts fresh. On the memory store and on a
//! DynamoDB-compatible server.

use std::sync::Arc;
use std::time::Duration;

use lift_runtime::store::{ConnectionStore, MemoryStore};
use lift_runtime::testing::{TestApp, TestClient};
use lift_runtime::{App, Settings};
use lift_tests::chat_app::chat;
use serde_json::{json, Value};

const SESSION: &str = "ana-session-0123456789";

async fn chat_on(store: impl ConnectionStore, settings: Settings) -> TestApp {
    lift_tests::start(App::new(chat::router()).store(store).settings(settings)).await
}

async fn join(client: &mut TestClient, room: &str) {
    client
        .send_json(&json!({"action": "join", "room": room}))
        .await;
    assert_eq!(
        client.recv_json().await,
        json!({"type": "joined", "room": room})
    );
}

/// The next frame that is not `skip`'s type.
async fn next_message(client: &mut TestClient) -> Value {
    loop {
        let frame = client.recv_json().await;
        if frame["type"] == "message" || frame["type"] == "error" {
            return frame;
        }
    }
}

/// bob says `text` in `room`; `to` must get it.
async fn said_in_room(bob: &mut TestClient, to: &mut TestClient, room: &str, text: &str) {
    bob.send_json(&json!({"action": "sendMessage", "room": room, "text": text}))
        .await;
    assert_eq!(
        next_message(to).await,
        json!({"type": "message", "room": room, "from": "bob", "text": text})
    );
}

/// The whole story on one store: rooms survive a dropped socket, a clean close and a takeover
/// of a socket that is still open; metadata and user come back; another user is refused.
async fn rooms_survive_reconnects(store: impl ConnectionStore + Clone) {
    let app = chat_on(store.clone(), Settings::default()).await;
    let path = format!("/?name=ana&session={SESSION}");
    let mut bob = app.connect("/?name=bob").await;
    join(&mut bob, "r1").await;

    let mut ana = app.connect(&path).await;
    join(&mut ana, "r1").await;
    join(&mut ana, "r2").await;
    said_in_room(&mut bob, &mut ana, "r1", "before").await;

    // 1. The socket drops (no close frame): the new connection is in r1 and r2 again.
    drop(ana);
    let mut ana = app.connect(&path).await;
    said_in_room(&mut bob, &mut ana, "r1", "after a drop").await;
    ana.send_json(&json!({"action": "sendMessage", "room": "r2", "text": "still in r2"}))
        .await;
    assert_eq!(next_message(&mut ana).await["text"], "still in r2");

    // 2. A clean close, then back.
    ana.close(1000, "bye").await;
    let mut ana = app.connect(&path).await;
    said_in_room(&mut bob, &mut ana, "r1", "after a close").await;

    // 3. Back while the old socket is still open: the old one is closed, the new one has
    // its rooms, and the old connection is gone from the store.
    let old_id = {
        ana.send_json(&json!({"action": "whoami"})).await;
        ana.recv_json().await["connectionId"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let mut new = app.connect(&path).await;
    let (code, _) = ana.closed().await;
    assert_eq!(code, 1000, "the session's old connection is closed");
    said_in_room(&mut bob, &mut new, "r1", "after a takeover").await;
    assert!(app.store().get(&old_id).await.unwrap().is_none());
    let current = app.store().session(SESSION).await.unwrap().unwrap();
    assert!(!current.parked);
    assert_eq!(current.user.as_deref(), Some("ana"));

    // 4. Another user with ana's session id: refused with 403, nothing changes.
    let refused = app
        .try_connect(&format!("/?name=mallory&session={SESSION}"), &[])
        .await;
    assert_eq!(refused.err(), Some(403));
    said_in_room(&mut bob, &mut new, "r1", "still ana's").await;
    assert_eq!(
        app.store().session(SESSION).await.unwrap().unwrap(),
        current
    );

    // A session id that is not 16 to 128 URL-safe characters: 400.
    for bad in ["short", "has%20a%20space-0123456789"] {
        let status = app
            .try_connect(&format!("/?name=ana&session={bad}"), &[])
            .await
            .err();
        assert_eq!(status, Some(400), "{bad}");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn rooms_survive_reconnects_on_the_memory_store() {
    rooms_survive_reconnects(MemoryStore::new()).await;
}

#[tokio::test]
async fn rooms_survive_reconnects_on_dynamodb() {
    let (store, _) = lift_tests::dynamodb::store("sessions").await;
    rooms_survive_reconnects(store).await;
}

#[tokio::test]
async fn an_expired_session_starts_fresh() {
    let settings = Settings {
        session_ttl: Some(Duration::from_millis(300)),
        ..Settings::default()
    };
    let app = chat_on(MemoryStore::new(), settings).await;
    let path = format!("/?name=ana&session={SESSION}");
    let mut ana = app.connect(&path).await;
    join(&mut ana, "r1").await;
    ana.close(1000, "bye").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut ana = app.connect(&path).await;
    ana.send_json(&json!({"action": "sendMessage", "room": "r1", "text": "?"}))
        .await;
    assert_eq!(next_message(&mut ana).await["code"], "not_in_room");
    app.shutdown().await;
}

#[tokio::test]
async fn with_sessions_off_the_parameter_is_the_apps_own() {
    let settings = Settings {
        session_ttl: None,
        ..Settings::default()
    };
    let store = Arc::new(MemoryStore::new());
    let app = lift_tests::start(
        App::new(chat::router())
            .store(MemoryStore::clone(&store))
            .settings(settings),
    )
    .await;
    // Even an id no session could have is accepted, and nothing is resumed or stored.
    let path = "/?name=ana&session=x";
    let mut ana = app.connect(path).await;
    join(&mut ana, "r1").await;
    ana.close(1000, "bye").await;
    let mut ana = app.connect(path).await;
    ana.send_json(&json!({"action": "sendMessage", "room": "r1", "text": "?"}))
        .await;
    assert_eq!(next_message(&mut ana).await["code"], "not_in_room");
    assert!(store.session("x").await.unwrap().is_none());
    app.shutdown().await;
}
