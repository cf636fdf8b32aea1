//! Request ids: a message's `"requestId"` comes back in what answers it — a two-way route's
//! reply, a one-way route's returned value, an error frame — on both paths: events fed to the
//! service as Lambda feeds them, and real WebSocket clients on the emulator.

use std::time::Duration;

use lift_runtime::settings::LocalSettings;
use lift_runtime::store::{Connection, ConnectionStore, MemoryStore};
use lift_runtime::{App, Service, Settings};
use lift_tests::events::message_event;
use lift_tests::sink::Sink;
use serde_json::{json, Value};

#[lift_runtime::ws_app]
mod counter {
    use lift_runtime::prelude::*;
    use serde::Deserialize;
    use serde_json::{json, Value};

    #[derive(Deserialize)]
    pub struct Add {
        pub n: i64,
    }

    /// Two-way: the reply is the response.
    #[ws_route("add", reply)]
    async fn add(Json(add): Json<Add>) -> WsResult<Json<Value>> {
        Ok(Json(json!({"type": "sum", "n": add.n + 1})))
    }

    /// One-way: the returned value is posted to the caller.
    #[ws_route("count")]
    async fn count(Json(add): Json<Add>) -> WsResult<Json<Value>> {
        Ok(Json(json!({"type": "count", "n": add.n})))
    }

    /// Two-way, answering text: sent as it is.
    #[ws_route("ping", reply)]
    async fn ping() -> WsResult<Reply> {
        Ok(Reply::text("pong"))
    }

    /// Slower than the emulator's invocation timeout in the test that sets it.
    #[ws_route("slow")]
    async fn slow() -> WsResult {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        Ok(())
    }
}

fn text(response: &aws_lambda_events::apigw::ApiGatewayProxyResponse) -> Option<String> {
    match &response.body {
        Some(aws_lambda_events::encodings::Body::Text(text)) => Some(text.clone()),
        _ => None,
    }
}

async fn lambda_counter(sink: &Sink) -> Service {
    let store = MemoryStore::new();
    store
        .save(&Connection::new("caller=", std::time::SystemTime::now()))
        .await
        .unwrap();
    App::new(counter::router())
        .store(store)
        .management_api(sink.connect())
        .settings(Settings::default())
        .service()
        .await
        .expect("the app's service")
}

/// `frame` is the error frame `code` about the message with this `requestId`.
fn assert_error(frame: &Value, code: &str, request_id: Value) {
    assert_eq!(frame["type"], "error", "{frame}");
    assert_eq!(frame["code"], code, "{frame}");
    assert_eq!(frame["requestId"], request_id, "{frame}");
}

/// The last message the caller was sent through the Management API, as JSON.
fn last_json(sink: &Sink) -> Option<Value> {
    sink.last("caller=")
        .map(|text| serde_json::from_str(&text).expect("a JSON frame"))
}

/// Feeds `body` to the service on route `key`, as Lambda would: the response's body.
async fn send(service: &Service, key: &str, body: Value) -> Option<String> {
    let event = message_event("caller=", key, &body.to_string());
    text(&lift_tests::handle_json(service, event).await)
}

#[tokio::test]
async fn on_the_lambda_path_replies_returned_values_and_error_frames_carry_the_request_id() {
    let sink = Sink::default();
    let service = lambda_counter(&sink).await;

    // A two-way route's reply; a string id and a number id.
    let reply = send(
        &service,
        "add",
        json!({"action": "add", "n": 1, "requestId": "r-1"}),
    )
    .await;
    let reply: Value = serde_json::from_str(&reply.unwrap()).unwrap();
    assert_eq!(reply, json!({"requestId": "r-1", "type": "sum", "n": 2}));
    let reply = send(
        &service,
        "add",
        json!({"action": "add", "n": 2, "requestId": 9}),
    )
    .await;
    // The id comes first, the reply's own fields follow as they were.
    assert_eq!(reply.unwrap(), r#"{"requestId":9,"n":3,"type":"sum"}"#);

    // Without one, the reply is as it always was.
    let reply = send(&service, "add", json!({"action": "add", "n": 3})).await;
    assert_eq!(reply.unwrap(), r#"{"n":4,"type":"sum"}"#);

    // An error frame about a two-way message is the response, with the id.
    let reply = send(
        &service,
        "add",
        json!({"action": "add", "n": "x", "requestId": 10}),
    )
    .await;
    let frame: Value = serde_json::from_str(&reply.unwrap()).unwrap();
    assert_eq!(frame["type"], "error");
    assert_eq!(frame["code"], "invalid_body");
    assert_eq!(frame["requestId"], 10);

    // A text reply is not JSON: sent as it is.
    let reply = send(&service, "ping", json!({"action": "ping", "requestId": 11})).await;
    assert_eq!(reply.unwrap(), "pong");

    // A one-way route's returned value, and its error frames, are posted with the id.
    let answer = send(
        &service,
        "count",
        json!({"action": "count", "n": 5, "requestId": "c"}),
    )
    .await;
    assert_eq!(
        answer, None,
        "a one-way route answers through the Management API"
    );
    assert_eq!(
        last_json(&sink),
        Some(json!({"requestId": "c", "type": "count", "n": 5}))
    );
    send(
        &service,
        "count",
        json!({"action": "count", "requestId": "c2"}),
    )
    .await;
    let frame = last_json(&sink).unwrap();
    assert_error(&frame, "invalid_body", json!("c2"));
    send(
        &service,
        "dance",
        json!({"action": "dance", "requestId": 12}),
    )
    .await;
    let frame = last_json(&sink).unwrap();
    assert_error(&frame, "unknown_route", json!(12));

    // An id that is neither a string nor a number is not echoed.
    send(
        &service,
        "count",
        json!({"action": "count", "n": 1, "requestId": {"x": 1}}),
    )
    .await;
    assert_eq!(last_json(&sink), Some(json!({"type": "count", "n": 1})));
}

#[tokio::test]
async fn on_the_emulator_every_answer_about_a_message_carries_its_request_id() {
    lift_tests::init_tracing();
    let settings = Settings {
        local: LocalSettings {
            invocation_timeout: Duration::from_millis(300),
            ..LocalSettings::default()
        },
        ..Settings::default()
    };
    let app = lift_tests::start(App::new(counter::router()).settings(settings)).await;
    let mut client = app.connect("/").await;

    client
        .send_json(&json!({"action": "add", "n": 1, "requestId": "a"}))
        .await;
    assert_eq!(
        client.recv_json().await,
        json!({"requestId": "a", "type": "sum", "n": 2})
    );
    client
        .send_json(&json!({"action": "count", "n": 4, "requestId": 4}))
        .await;
    assert_eq!(
        client.recv_json().await,
        json!({"requestId": 4, "type": "count", "n": 4})
    );
    client
        .send_json(&json!({"action": "nope", "requestId": "u"}))
        .await;
    let frame = client.recv_json().await;
    assert_error(&frame, "unknown_route", json!("u"));

    // The emulator's own error frame, when the handler does not answer in time.
    client
        .send_json(&json!({"action": "slow", "requestId": "s"}))
        .await;
    let frame = client.recv_json().await;
    assert_error(&frame, "timeout", json!("s"));

    // Without an id: as before.
    client.send_json(&json!({"action": "add", "n": 7})).await;
    assert_eq!(client.recv_json().await, json!({"type": "sum", "n": 8}));
    client.close(1000, "").await;
    app.shutdown().await;
}
