//! The per-user connection cap on `$connect`, with real WebSocket clients on the emulator running
//! the chat, on the memory store and on a DynamoDB-compatible server: past the cap a handshake is
//! refused with 429 and nothing stored; other users are not affected; a closed connection frees
//! its place; a session resume does not count the connection it takes over.

use std::time::Duration;

use lift_runtime::auth::ConnectionLimit;
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
    for _ in 0..100 {
        if open("ana").await < 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.connect("/?name=ana").await;
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
