//! The per-user caps, with real WebSocket clients on the emulator running the chat, on the memory
//! store and on a DynamoDB-compatible server.
//!
//! Connections (`ConnectionLimit`): past the cap a handshake is refused with 429 and nothing
//! stored; other users are not affected; a closed connection frees its place; a session resume
//! does not count the connection it takes over.
//!
//! Messages (`MessageLimit`): a user's messages are counted across their connections on two
//! emulators sharing one store (two Lambda instances); past the limit each gets `rate_limited`
//! and is not handled, the connection stays open; other users are not affected.

use std::time::Duration;

use lift_runtime::auth::{ConnectionLimit, MessageLimit};
use lift_runtime::store::{ConnectionStore, MemoryStore};
use lift_runtime::App;
use lift_tests::chat_app::chat;

const SESSION: &str = "ana-phone-0123456789";

async fn cap_holds(store: impl ConnectionStore) {
    let app = lift_tests::start(
        App::new(chat::router())
            .store(store)
            .middleware(ConnectionLimit::per_user(2)),
    )
    .await;
    let open = |user: &'static str| {
        let store = app.store().clone();
        async move { store.user_connections(user).await.unwrap().len() }
    };
    let phone = app.connect(&format!("/?name=ana&session={SESSION}")).await;
    let laptop = app.connect("/?name=ana").await;
    assert_eq!(app.try_connect("/?name=ana", &[]).await.err(), Some(429));
    assert_eq!(open("ana").await, 2, "the refused handshake stored nothing");
    // Other users have their own count.
    let _bob = app.connect("/?name=bob").await;

    // The phone comes back with its session: the connection it takes over does not count.
    let _phone_again = app.connect(&format!("/?name=ana&session={SESSION}")).await;
    let mut phone = phone;
    assert_eq!(
        phone.closed().await.0,
        1000,
        "the taken-over connection is closed"
    );
    assert_eq!(open("ana").await, 2);

    // A closed connection frees its place once its $disconnect is done.
    laptop.close(1000, "bye").await;
    for _ in 0..500 {
        if open("ana").await < 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // (Held: a client dropped at once would close, and its `$disconnect` race the count.)
    let _laptop_again = app.connect("/?name=ana").await;
    assert_eq!(open("ana").await, 2);
    app.shutdown().await;
}

#[tokio::test]
async fn the_cap_holds_on_the_memory_store() {
    cap_holds(MemoryStore::new()).await;
}

#[tokio::test]
async fn the_cap_holds_on_dynamodb() {
    let (store, _) = lift_tests::dynamodb::store("limits").await;
    cap_holds(store).await;
}

async fn message_limit_holds_across_instances(store: impl ConnectionStore + Clone) {
    // A window of an hour, not about to end (its count would start again).
    let window = Duration::from_secs(3600);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if now % 3600 > 3590 {
        tokio::time::sleep(Duration::from_secs(3600 - now % 3600 + 1)).await;
    }
    let instance = |store| {
        lift_tests::start(
            App::new(chat::router())
                .store(store)
                .middleware(MessageLimit::per_user(5, window)),
        )
    };
    let (one, two) = (instance(store.clone()).await, instance(store).await);
    let phone = one.connect("/?name=ana").await;
    let laptop = two.connect("/?name=ana").await;
    let mut bob = one.connect("/?name=bob").await;
    let whoami = serde_json::json!({"action": "whoami"});
    async fn answer(
        client: &mut lift_runtime::testing::TestClient,
        message: &serde_json::Value,
    ) -> serde_json::Value {
        client.send_json(message).await;
        client.recv_json().await
    }
    // Five messages of ana, on two connections through two instances: all handled.
    let mut clients = [phone, laptop];
    for i in [0, 1, 0, 1, 0] {
        assert_eq!(answer(&mut clients[i], &whoami).await["type"], "whoami");
    }
    // The sixth, on either: refused, not handled, the connection still open.
    for i in [1, 0, 0] {
        let refused = answer(&mut clients[i], &whoami).await;
        assert_eq!(refused["code"], "rate_limited", "{refused}");
        assert!(
            refused["message"].as_str().unwrap().contains("wait"),
            "{refused}"
        );
    }
    // Bob has his own count.
    for _ in 0..5 {
        assert_eq!(answer(&mut bob, &whoami).await["type"], "whoami");
    }
    assert_eq!(answer(&mut bob, &whoami).await["code"], "rate_limited");
    one.shutdown().await;
    two.shutdown().await;
}

#[tokio::test]
async fn the_message_limit_holds_across_instances_on_the_memory_store() {
    message_limit_holds_across_instances(MemoryStore::new()).await;
}

#[tokio::test]
async fn the_message_limit_holds_across_instances_on_dynamodb() {
    let (store, _) = lift_tests::dynamodb::store("message-limit").await;
    message_limit_holds_across_instances(store).await;
}
