//! The presence example (an app split across files with `ws_routes!`) driven by real WebSocket
//! clients through the library's own `testing` helpers: greetings, multi-device users, direct
//! messages to every device, and the offline announcement after the last device leaves.

use std::time::Duration;

use lift_runtime::testing::{TestApp, TestClient};
use lift_runtime::App;
use serde_json::{json, Value};

#[path = "../examples/presence/app.rs"]
mod presence;

const QUIET: Duration = Duration::from_millis(150);

async fn start() -> TestApp {
    lift_tests::init_tracing();
    TestApp::start(App::new(presence::router())).await
}

/// Connects as `user` and says hello; the welcome.
async fn greet(app: &TestApp, user: &str) -> (TestClient, Value) {
    let mut client = app.connect(&format!("/?user={user}")).await;
    client.send_json(&json!({"action": "hello"})).await;
    let welcome = client.recv_json().await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    (client, welcome)
}

#[tokio::test]
async fn hello_announces_users_once_and_lists_who_is_online() {
    let app = start().await;
    let (mut ana, welcome) = greet(&app, "ana").await;
    assert_eq!(welcome["online"], json!(["ana"]));

    let (mut bob, welcome) = greet(&app, "bob").await;
    assert_eq!(welcome["online"], json!(["ana", "bob"]));
    assert_eq!(
        ana.recv_json().await,
        json!({"type": "online", "user": "bob"})
    );

    // Bob's second device: listed once, announced to nobody.
    let (mut bob_phone, welcome) = greet(&app, "bob").await;
    assert_eq!(welcome["online"], json!(["ana", "bob"]));
    ana.expect_silence(QUIET).await;
    bob.expect_silence(QUIET).await;
    bob_phone.expect_silence(QUIET).await;
}

#[tokio::test]
async fn a_direct_message_reaches_every_device_of_the_user_and_nobody_else() {
    let app = start().await;
    let (mut ana, _) = greet(&app, "ana").await;
    let (mut bob, _) = greet(&app, "bob").await;
    let (mut bob_phone, _) = greet(&app, "bob").await;
    assert_eq!(ana.recv_json().await["user"], "bob");

    ana.send_json(&json!({"action": "dm", "to": "bob", "text": "hi bob"}))
        .await;
    let dm = json!({"type": "dm", "from": "ana", "text": "hi bob"});
    assert_eq!(bob.recv_json().await, dm);
    assert_eq!(bob_phone.recv_json().await, dm);
    ana.expect_silence(QUIET).await;

    // Nobody by that name: an error frame, and the connection goes on.
    ana.send_json(&json!({"action": "dm", "to": "carol", "text": "?"}))
        .await;
    let error = ana.recv_json().await;
    assert_eq!(error["code"], "not_online", "{error}");
    ana.send_json(&json!({"action": "dm", "to": "bob", "text": "still here"}))
        .await;
    assert_eq!(bob.recv_json().await["text"], "still here");
}

#[tokio::test]
async fn the_last_device_leaving_announces_the_user_offline() {
    let app = start().await;
    let (mut ana, _) = greet(&app, "ana").await;
    let (bob, _) = greet(&app, "bob").await;
    let (bob_phone, _) = greet(&app, "bob").await;
    assert_eq!(ana.recv_json().await["user"], "bob");

    bob.close(1000, "").await;
    ana.expect_silence(QUIET).await;
    bob_phone.close(1000, "").await;
    assert_eq!(
        ana.recv_json().await,
        json!({"type": "offline", "user": "bob"})
    );

    // A bad name is refused at the handshake.
    assert_eq!(
        app.try_connect("/?user=no%20spaces", &[]).await.err(),
        Some(400)
    );
    assert_eq!(app.try_connect("/", &[]).await.err(), Some(400));
}
