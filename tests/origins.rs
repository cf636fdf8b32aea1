//! The `Origin` allow-list on `$connect`, with real WebSocket clients on the emulator running the
//! chat (memory store and DynamoDB): a page that is not allowed is refused with 403 and nothing
//! is stored; an allowed page and a client without `Origin` connect; with `require_origin`, a
//! client without one is refused.

use lift_runtime::auth::AllowedOrigins;
use lift_runtime::testing::TestApp;
use lift_runtime::App;
use lift_tests::chat_app::chat;
use serde_json::json;

async fn chat_allowing(origins: AllowedOrigins) -> TestApp {
    lift_tests::start(App::new(chat::router()).middleware(origins)).await
}

#[tokio::test]
async fn only_allowed_pages_connect_and_a_refusal_stores_nothing() {
    let app = chat_allowing(AllowedOrigins::new(["https://chat.example.com"])).await;
    only_allowed_pages_connect(app).await;
}

#[tokio::test]
async fn on_dynamodb_a_refused_page_stores_nothing_either() {
    let (store, _) = lift_tests::dynamodb::store("origins").await;
    let app = App::new(chat::router())
        .store(store)
        .middleware(AllowedOrigins::new(["https://chat.example.com"]));
    only_allowed_pages_connect(lift_tests::start(app).await).await;
}

async fn only_allowed_pages_connect(app: TestApp) {
    for origin in ["https://evil.example", "http://chat.example.com", "null"] {
        let refused = app.try_connect("/?name=ana", &[("Origin", origin)]).await;
        assert_eq!(refused.err(), Some(403), "{origin}");
    }
    assert!(app.store().list().await.unwrap().is_empty());

    let mut allowed = app
        .try_connect("/?name=ana", &[("Origin", "https://CHAT.example.com")])
        .await
        .expect("an allowed page connects");
    allowed.send_json(&json!({"action": "whoami"})).await;
    assert_eq!(allowed.recv_json().await["name"], "ana");
    // Not a browser: no Origin, let through.
    let mut tool = app.connect("/?name=bot").await;
    tool.send_json(&json!({"action": "whoami"})).await;
    assert_eq!(tool.recv_json().await["name"], "bot");
    app.shutdown().await;
}

#[tokio::test]
async fn require_origin_refuses_clients_without_one() {
    let app =
        chat_allowing(AllowedOrigins::new(["https://chat.example.com"]).require_origin()).await;
    assert_eq!(app.try_connect("/?name=bot", &[]).await.err(), Some(403));
    app.try_connect("/?name=ana", &[("Origin", "https://chat.example.com")])
        .await
        .expect("an allowed page connects");
    app.shutdown().await;
}
