//! {{project_name}}'s tests: handlers called directly (`TestContext`), and the whole app on the
//! local emulator with real WebSocket clients (`TestApp`).

#[path = "../src/app.rs"]
mod app;

use app::app::{connect, echo, say};
use lift_runtime::prelude::*;
use lift_runtime::testing::{TestApp, TestContext};
use serde_json::json;

#[tokio::test]
async fn connect_needs_a_name_and_joins_everyone() {
    let (ctx, _) = TestContext::connect().build().await;
    let mut ctx = ctx;
    let refused = connect(&mut ctx).await.unwrap_err();
    assert_eq!(refused.status(), 400);

    let (mut ctx, _) = TestContext::connect().query("name", "ana").build().await;
    connect(&mut ctx).await.unwrap();
    let saved = TestContext::saved(ctx).await.unwrap();
    assert_eq!(saved.user.as_deref(), Some("ana"));
    assert!(saved.rooms.contains(app::EVERYONE));
}

#[tokio::test]
async fn echo_answers_the_message() {
    let reply = echo(Json(app::Echo { text: "hi".into() })).await.unwrap();
    assert_eq!(reply.0.text, "hi");
}

#[tokio::test]
async fn say_reaches_everyone_in_the_room() {
    let (ctx, calls) = TestContext::message("say", r#"{"action":"say","text":"hello"}"#)
        .user("ana")
        .rooms([app::EVERYONE])
        .build()
        .await;
    say(&ctx, Json(app::Say { text: "hello".into() })).await.unwrap();
    let sent = calls.sent_to(lift_runtime::testing::TEST_CONNECTION);
    assert_eq!(sent, [json!({"type": "said", "from": "ana", "text": "hello"})]);
}

#[tokio::test]
async fn the_whole_app_with_real_clients() {
    let app = TestApp::start(lift_runtime::App::new(app::app::router())).await;
    assert_eq!(app.try_connect("/", &[]).await.err(), Some(400));
    let mut ana = app.connect("/?name=ana").await;
    let mut bob = app.connect("/?name=bob").await;

    // A two-way route.
    ana.send_json(&json!({"action": "echo", "text": "ping", "requestId": 1})).await;
    assert_eq!(ana.recv_json().await, json!({"requestId": 1, "text": "ping"}));

    // A one-way route and its broadcast.
    bob.send_json(&json!({"action": "say", "text": "hi all"})).await;
    for client in [&mut ana, &mut bob] {
        assert_eq!(client.recv_json().await, json!({"type": "said", "from": "bob", "text": "hi all"}));
    }

    // An unknown route gets the error frame; the connection stays.
    ana.send_json(&json!({"action": "nope"})).await;
    assert_eq!(ana.recv_json().await["code"], "unknown_route");
    bob.close(1000, "bye").await;
    app.shutdown().await;
}
