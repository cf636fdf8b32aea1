//! `App::run()` under Lambda, end to end: the real `lambda_runtime` client polls a local stub of
//! the Lambda Runtime API, and the app's Management API calls go, through
//! `LIFT_MANAGEMENT_ENDPOINT`, to the emulator where a real WebSocket client listens.
//!
//! Alone in its test binary: it sets the process environment Lambda would set.

use lift_runtime::store::MemoryStore;
use lift_runtime::App;
use lift_runtime::Settings;
use lift_tests::chat_app::chat;
use lift_tests::runtime_api::{lambda_environment, RuntimeApi};
use lift_tests::{eventually, Client};
use serde_json::{json, Value};

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn event(connection_id: &str, route_key: &str, event_type: &str, body: Option<&str>) -> Value {
    json!({
        "requestContext": {
            "routeKey": route_key,
            "eventType": event_type,
            "messageDirection": "IN",
            "stage": "prod",
            "connectedAt": now_ms(),
            "requestTimeEpoch": now_ms(),
            "requestId": "LfB9aH3ZjoEFzXw=",
            "domainName": "abcd1234.execute-api.us-east-1.amazonaws.com",
            "connectionId": connection_id,
            "apiId": "abcd1234",
            "identity": {"sourceIp": "203.0.113.7"}
        },
        "queryStringParameters": if route_key == "$connect" { json!({"name": "lambda-user"}) } else { Value::Null },
        "body": body,
        "isBase64Encoded": false
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_run_serves_lambda_invocations() {
    let store = MemoryStore::new();
    // The emulator stands in for API Gateway and knows the function's credentials (it checks
    // every Management API signature).
    let mut settings = Settings::default();
    settings
        .local
        .credentials
        .push(("AKIDLAMBDA".into(), "secret".into()));
    let emulator = lift_tests::start(
        App::new(chat::router())
            .store(store.clone())
            .settings(settings),
    )
    .await;
    let mut ana = Client::join(&emulator, "ana").await;

    let api = RuntimeApi::start().await;
    let events = [
        (
            "req-connect",
            event("LAMBDAconn01=", "$connect", "CONNECT", None),
        ),
        (
            "req-whoami",
            event(
                "LAMBDAconn01=",
                "whoami",
                "MESSAGE",
                Some(r#"{"action":"whoami"}"#),
            ),
        ),
        ("req-garbage", json!({"not": "an API Gateway event"})),
        (
            "req-send",
            event(
                "LAMBDAconn01=",
                "sendMessage",
                "MESSAGE",
                Some(r#"{"action":"sendMessage","text":"hi from lambda"}"#),
            ),
        ),
        (
            "req-bye",
            event("LAMBDAconn01=", "$disconnect", "DISCONNECT", None),
        ),
    ];
    for (id, event) in &events {
        api.invoke(id, event.to_string());
    }
    // What Lambda sets, plus the endpoint override the app honours behind custom domains.
    lambda_environment(
        &api,
        &[("LIFT_MANAGEMENT_ENDPOINT", &emulator.management_endpoint())],
    );
    let app = tokio::spawn(App::new(chat::router()).store(store.clone()).run());

    eventually("every invocation is answered", || async {
        api.responses().len() == events.len()
    })
    .await;
    let responses = api.responses();
    assert_eq!(responses["req-connect"]["statusCode"], 200);
    let whoami: Value =
        serde_json::from_str(responses["req-whoami"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        whoami,
        json!({"type": "whoami", "name": "lambda-user", "connectionId": "LAMBDAconn01="})
    );
    assert_eq!(responses["req-garbage"]["statusCode"], 400);
    assert!(responses["req-garbage"]["body"]
        .as_str()
        .unwrap()
        .contains("invalid_event"));
    assert_eq!(responses["req-send"]["statusCode"], 200);
    assert_eq!(responses["req-bye"]["statusCode"], 200);

    // The broadcast reached the live client through the Management API.
    assert_eq!(
        ana.recv_json().await,
        json!({"type": "message", "from": "lambda-user", "text": "hi from lambda"})
    );
    assert!(store_lacks(&store, "LAMBDAconn01=").await);
    app.abort();
}

async fn store_lacks(store: &MemoryStore, id: &str) -> bool {
    use lift_runtime::store::ConnectionStore;
    store.get(id).await.unwrap().is_none()
}
