//! The local emulator's fidelity to API Gateway: what the events carry, stages, close codes,
//! timeouts, refusals, and plain HTTP requests.

use std::sync::Mutex;
use std::time::Duration;

use lift_runtime::settings::LocalSettings;
use lift_runtime::testing::TestApp;
use lift_runtime::App;
use lift_runtime::Settings;
use lift_tests::{eventually, init_tracing, Client};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

/// `(connection id, disconnectStatusCode, disconnectReason)` of a `$disconnect`.
type Disconnect = (String, Option<i64>, Option<String>);

/// Every `$disconnect` seen.
static DISCONNECTS: Mutex<Vec<Disconnect>> = Mutex::new(Vec::new());

fn disconnect_of(id: &str) -> Option<(Option<i64>, Option<String>)> {
    DISCONNECTS
        .lock()
        .unwrap()
        .iter()
        .find(|(seen, _, _)| seen == id)
        .map(|(_, code, reason)| (*code, reason.clone()))
}

#[lift_runtime::ws_app]
mod probe {
    use lift_runtime::prelude::*;
    use serde_json::{json, Value};

    #[ws_connect]
    async fn connect(ctx: &mut WsContext) -> WsResult {
        match ctx.query("mode") {
            Some("deny") => return Err(WsError::forbidden("not today")),
            Some("login") => return Err(WsError::unauthorized("who are you?")),
            Some("panic") => panic!("the connect handler blew up"),
            _ => {}
        }
        // As in API Gateway, the connection being opened cannot be sent to yet.
        let greeting = match ctx.query("greet") {
            Some(_) => Some(
                ctx.reply(&json!({"hello": true}))
                    .await
                    .err()
                    .map(|e| e.to_string()),
            ),
            None => None,
        };
        let mut seen = json!({
            "q": ctx.query("q"),
            "header": ctx.header("x-probe"),
            "sourceIp": ctx.event().request_context.identity.source_ip,
            "stage": ctx.event().request_context.stage,
            "eventType": ctx.event().request_context.event_type,
        });
        if let Some(greeting) = greeting {
            seen["greeting"] = json!(greeting);
        }
        ctx.set_metadata(seen);
        Ok(())
    }

    #[ws_disconnect]
    async fn disconnect(ctx: &WsContext) -> WsResult {
        let rc = &ctx.event().request_context;
        super::DISCONNECTS.lock().unwrap().push((
            ctx.connection_id().to_owned(),
            rc.disconnect_status_code,
            rc.disconnect_reason.clone(),
        ));
        Ok(())
    }

    /// What `$connect` saw, as stored with the connection.
    #[ws_route("seen", reply)]
    async fn seen(ctx: &WsContext) -> WsResult<Json<Value>> {
        let conn = ctx.connection().await?.expect("stored");
        Ok(Json(json!({"seen": conn.metadata, "id": conn.id})))
    }

    /// What the client sent when it named no route.
    #[ws_default]
    async fn sizes(ctx: &WsContext, bytes: Vec<u8>) -> WsResult<Json<Value>> {
        Ok(Json(json!({
            "base64": ctx.event().is_base64_encoded,
            "size": bytes.len(),
            "head": bytes.iter().take(4).collect::<Vec<_>>(),
        })))
    }

    /// Takes longer than any invocation timeout the tests set.
    #[ws_route("slow", reply)]
    async fn slow(_ctx: &WsContext) -> WsResult<Json<Value>> {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        Ok(Json(json!({"slow": true})))
    }

    /// Answers through the Management API (at the connection's stage).
    #[ws_route("echo")]
    async fn echo(ctx: &WsContext, body: String) -> WsResult {
        ctx.reply(&json!({"echo": body})).await?;
        Ok(())
    }
}

async fn start_probe(local: LocalSettings) -> TestApp {
    init_tracing();
    let settings = Settings {
        local,
        ..Settings::default()
    };
    TestApp::start(App::new(probe::router()).settings(settings)).await
}

#[tokio::test]
async fn a_handler_slower_than_the_invocation_timeout_gets_a_timeout_frame_and_the_connection_stays(
) {
    let emulator = start_probe(LocalSettings {
        invocation_timeout: Duration::from_millis(300),
        ..LocalSettings::default()
    })
    .await;
    let mut client = Client::try_connect(&emulator.url()).await.unwrap();
    client.send_json(json!({"action": "slow"})).await;
    let frame = client.recv_json().await;
    assert_eq!(frame["type"], "error", "{frame}");
    assert_eq!(frame["code"], "timeout", "{frame}");
    client.send_json(json!({"action": "seen"})).await;
    assert!(client.recv_json().await["id"].is_string());
}

#[tokio::test]
async fn connect_events_carry_query_headers_source_ip_and_stage() {
    let emulator = start_probe(LocalSettings::default()).await;
    let url = format!("{}/prod?q=a%20b&other=1", emulator.url());
    let mut client = Client::try_connect_with_header(&url, "x-probe", "hello")
        .await
        .unwrap();
    client.send_json(json!({"action": "seen"})).await;
    let reply = client.recv_json().await;
    assert_eq!(
        reply["seen"],
        json!({"q": "a b", "header": "hello", "sourceIp": "127.0.0.1", "stage": "prod", "eventType": "CONNECT"})
    );

    // Replies through the Management API go to the connection's stage endpoint.
    client.send_json(json!({"action": "echo", "x": 1})).await;
    assert_eq!(
        client.recv_json().await,
        json!({"echo": r#"{"action":"echo","x":1}"#})
    );
}

#[tokio::test]
async fn handshake_refusals_carry_the_handlers_status() {
    let emulator = start_probe(LocalSettings::default()).await;
    for (mode, status) in [("deny", 403), ("login", 401), ("panic", 500)] {
        let url = format!("{}/?mode={mode}", emulator.url());
        assert_eq!(
            Client::try_connect(&url).await.err(),
            Some(status),
            "{mode}"
        );
    }
    assert!(emulator.store().list().await.unwrap().is_empty());
    // The emulator keeps serving after a panicking $connect.
    let mut client = Client::try_connect(&emulator.url()).await.unwrap();
    client.send_json(json!({"action": "seen"})).await;
    assert_eq!(client.recv_json().await["seen"]["stage"], "local");
}

#[tokio::test]
async fn disconnect_events_carry_the_close_code_and_reason() {
    let emulator = start_probe(LocalSettings::default()).await;
    let mut client = Client::try_connect(&emulator.url()).await.unwrap();
    client.send_json(json!({"action": "seen"})).await;
    let id = client.recv_json().await["id"].as_str().unwrap().to_owned();
    client.close(4001, "done here").await;
    eventually("the $disconnect event", || async {
        disconnect_of(&id).is_some()
    })
    .await;
    assert_eq!(
        disconnect_of(&id),
        Some((Some(4001), Some("done here".to_owned())))
    );
    assert!(emulator.store().get(&id).await.unwrap().is_none());
}

#[tokio::test]
async fn idle_connections_are_closed_with_1001() {
    // Through the library's own test helpers, as a user would write it.
    init_tracing();
    let app = start_probe(LocalSettings {
        idle_timeout: Duration::from_millis(300),
        ..LocalSettings::default()
    })
    .await;
    let mut client = app.connect("/").await;
    client.send_json(&json!({"action": "seen"})).await;
    let id = client.recv_json().await["id"].as_str().unwrap().to_owned();
    client.expect_silence(Duration::from_millis(100)).await;
    assert_eq!(client.closed().await, (1001, "Going away".to_owned()));
    eventually("the $disconnect event", || async {
        disconnect_of(&id).is_some()
    })
    .await;
    assert_eq!(disconnect_of(&id).unwrap().0, Some(1001));
}

#[tokio::test]
async fn connections_end_at_their_maximum_lifetime() {
    let emulator = start_probe(LocalSettings {
        max_lifetime: Duration::from_millis(300),
        ..LocalSettings::default()
    })
    .await;
    let mut client = Client::try_connect(&emulator.url()).await.unwrap();
    match client.next().await {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1001),
        other => panic!("expected a close frame, got {other:?}"),
    }
    let store = emulator.store().clone();
    eventually("the record is deleted", || async {
        store.list().await.unwrap().is_empty()
    })
    .await;
}

/// The emulator's address, from its `ws://` URL.
fn addr_of(app: &TestApp) -> std::net::SocketAddr {
    app.url().trim_start_matches("ws://").parse().unwrap()
}

async fn plain_get(addr: std::net::SocketAddr) -> String {
    get_path(addr, "/").await
}

async fn get_path(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn the_inspector_shows_connections_rooms_events_and_calls() {
    init_tracing();
    let emulator = lift_tests::start_chat().await;
    let addr = addr_of(&emulator);
    let mut ana = Client::join(&emulator, "ana").await;
    let mut bob = Client::join(&emulator, "bob").await;
    ana.send_json(json!({"action": "join", "room": "rust"}))
        .await;
    ana.recv_json().await;
    ana.send_json(json!({"action": "sendMessage", "text": "hi"}))
        .await;
    bob.recv_json().await;
    ana.send_text("not json").await;
    ana.recv_json().await;

    let page = get_path(addr, "/_lift").await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("Lift inspector"), "{page}");

    let response = get_path(addr, "/_lift/state").await;
    let body = response.split("\r\n\r\n").nth(1).unwrap();
    let state: serde_json::Value = serde_json::from_str(body).unwrap();
    let users: Vec<&str> = state["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["user"].as_str().unwrap())
        .collect();
    assert_eq!(users.len(), 2);
    assert!(users.contains(&"ana") && users.contains(&"bob"), "{state}");
    let rust = state["rooms"]["rust"].as_array().unwrap();
    assert_eq!(rust.len(), 1, "{state}");
    assert!(rust[0].as_str().unwrap().starts_with("ana ("), "{state}");
    let events = state["events"].as_array().unwrap();
    let routes: Vec<&str> = events
        .iter()
        .map(|e| e["route"].as_str().unwrap())
        .collect();
    assert!(
        routes.starts_with(&["$connect", "$connect", "join", "sendMessage"]),
        "{routes:?}"
    );
    // The unknown route's error frame went out through the Management API.
    let calls = state["calls"].as_array().unwrap();
    assert!(
        calls
            .iter()
            .any(|c| c["method"] == "POST" && c["code"] == "unknown_route"),
        "{calls:?}"
    );
    // Two recipients of the chat message.
    let posts = calls
        .iter()
        .filter(|c| c["method"] == "POST" && c["code"].is_null())
        .count();
    assert!(posts >= 2, "{calls:?}");
}

#[tokio::test]
async fn a_plain_get_serves_the_page_or_asks_for_an_upgrade() {
    let emulator = start_probe(LocalSettings {
        page: Some("<h1>hi</h1>".into()),
        ..LocalSettings::default()
    })
    .await;
    let response = plain_get(addr_of(&emulator)).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("<h1>hi</h1>"), "{response}");

    let emulator = start_probe(LocalSettings::default()).await;
    let response = plain_get(addr_of(&emulator)).await;
    assert!(response.starts_with("HTTP/1.1 426"), "{response}");
}

#[tokio::test]
async fn shutdown_closes_every_connection_with_its_disconnect() {
    let emulator = start_probe(LocalSettings::default()).await;
    let mut client = Client::try_connect(&emulator.url()).await.unwrap();
    client.send_json(json!({"action": "seen"})).await;
    let id = client.recv_json().await["id"].as_str().unwrap().to_owned();
    let store = emulator.store().clone();
    emulator.shutdown().await;
    match client.next().await {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1001),
        other => panic!("expected a close frame, got {other:?}"),
    }
    eventually("the $disconnect event", || async {
        disconnect_of(&id).is_some()
    })
    .await;
    assert!(store.get(&id).await.unwrap().is_none());
}

#[tokio::test]
async fn a_binary_frame_closes_the_connection_with_1003_as_api_gateway_does() {
    let app = TestApp::start(App::new(probe::router())).await;
    let mut client = app.connect("/").await;
    client.send_json(&json!({"action": "seen"})).await;
    let id = client.recv_json().await["id"].as_str().unwrap().to_owned();

    // Text reaches the app, as bytes too.
    client.send_text("hello").await;
    assert_eq!(
        client.recv_json().await,
        json!({"base64": false, "size": 5, "head": [104, 101, 108, 108]})
    );

    client.send(Message::binary(vec![0u8, 159, 146, 150])).await;
    assert_eq!(
        client.closed().await,
        (1003, "binary frames are not supported".to_owned())
    );
    eventually("the $disconnect event", || async {
        disconnect_of(&id).is_some()
    })
    .await;
    assert_eq!(disconnect_of(&id).unwrap().0, Some(1003));
    // The emulator goes on.
    let mut other = app.connect("/").await;
    other.send_text("still here").await;
    assert_eq!(other.recv_json().await["size"], 10);
}

#[tokio::test]
async fn the_connection_being_opened_cannot_be_sent_to_as_in_api_gateway() {
    let app = TestApp::start(App::new(probe::router())).await;
    let mut client = app.connect("/?greet=1").await;
    client.send_json(&json!({"action": "seen"})).await;
    let seen = client.recv_json().await;
    // The send in $connect failed with 410 (and the handshake still succeeded)...
    let greeting = seen["seen"]["greeting"].as_str().unwrap_or_default();
    assert!(greeting.contains("is gone (410)"), "{seen}");
    // ...nothing was delivered, and the connection was stored all the same.
    client.expect_silence(Duration::from_millis(100)).await;
    assert!(app
        .store()
        .get(seen["id"].as_str().unwrap())
        .await
        .unwrap()
        .is_some());
}
