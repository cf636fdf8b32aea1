//! `App::run()` under Lambda, end to end: the real `lambda_runtime` client polls a local stub of
//! the Lambda Runtime API, and the app's Management API calls go, through
//! `LIFT_MANAGEMENT_ENDPOINT`, to the emulator where a real WebSocket client listens.
//!
//! Alone in its test binary: it sets the process environment Lambda would set.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Json;
use lift_runtime::local::{Emulator, LocalConfig};
use lift_runtime::store::MemoryStore;
use lift_runtime::App;
use lift_tests::chat_app::chat;
use lift_tests::{eventually, Client};
use serde_json::{json, Value};

#[derive(Default)]
struct RuntimeApi {
    events: Mutex<VecDeque<(String, Value)>>,
    responses: Mutex<HashMap<String, Value>>,
}

async fn next(State(api): State<Arc<RuntimeApi>>) -> (HeaderMap, Json<Value>) {
    loop {
        let event = api.events.lock().unwrap().pop_front();
        if let Some((id, event)) = event {
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
                + 30_000;
            let mut headers = HeaderMap::new();
            headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
            headers.insert(
                "lambda-runtime-deadline-ms",
                deadline.to_string().parse().unwrap(),
            );
            headers.insert(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:chat"
                    .parse()
                    .unwrap(),
            );
            return (headers, Json(event));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn respond(
    State(api): State<Arc<RuntimeApi>>,
    Path(id): Path<String>,
    body: String,
) -> StatusCode {
    // The runtime client sends JSON without a content type.
    let body = serde_json::from_str(&body).expect("the response is JSON");
    api.responses.lock().unwrap().insert(id, body);
    StatusCode::ACCEPTED
}

async fn fail(
    State(api): State<Arc<RuntimeApi>>,
    Path(id): Path<String>,
    body: String,
) -> StatusCode {
    api.responses
        .lock()
        .unwrap()
        .insert(id, json!({"invocationError": body}));
    StatusCode::ACCEPTED
}

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
    let config = LocalConfig::default()
        .addr("127.0.0.1:0".parse().unwrap())
        .credentials("AKIDLAMBDA", "secret");
    let emulator = Emulator::start(
        App::new(chat::router()).store(store.clone()).service(),
        config,
    )
    .await
    .unwrap();
    let mut ana = Client::join(&emulator, "ana").await;

    let api = Arc::new(RuntimeApi::default());
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
    api.events.lock().unwrap().extend(
        events
            .iter()
            .map(|(id, event)| (id.to_string(), event.clone())),
    );
    let routes = axum::Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(respond),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let runtime_api = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, routes).await });

    // What Lambda sets, plus the endpoint override the app honours behind custom domains.
    for (key, value) in [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", "chat".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "AKIDLAMBDA".into()),
        ("AWS_SECRET_ACCESS_KEY", "secret".into()),
        ("LIFT_MANAGEMENT_ENDPOINT", emulator.management_endpoint()),
    ] {
        std::env::set_var(key, value);
    }
    let app = tokio::spawn(App::new(chat::router()).store(store.clone()).run());

    let responses = &api.responses;
    eventually("every invocation is answered", || async {
        responses.lock().unwrap().len() == events.len()
    })
    .await;
    let responses = api.responses.lock().unwrap().clone();
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
