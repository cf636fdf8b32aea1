//! The DynamoDB store when DynamoDB fails: throttling (`ThrottlingException`,
//! `ProvisionedThroughputExceededException`) and 5xx on every operation, from a fake server
//! that answers every request with the fault (a fake is right here: it exists to inject
//! faults; the store is tested against a real DynamoDB-compatible server in `store.rs`). What
//! the caller sees: the SDK's retries, then a `StoreError` naming the operation and the fault;
//! through the service, a refused `$connect` and error frames, and the process serving on.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use axum::http::StatusCode;
use lift_runtime::store::{collect, Connection, ConnectionStore, DynamoDbStore};
use lift_runtime::App;
use lift_tests::chat_app::chat;
use lift_tests::events::{connect_event_for, message_event};
use serde_json::json;

/// A server answering every request with `status` and DynamoDB's error `kind`; the requests it
/// got, counted.
async fn failing_dynamodb(status: u16, kind: &'static str) -> (SocketAddr, Arc<AtomicUsize>) {
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let app = axum::Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            (
                StatusCode::from_u16(status).unwrap(),
                [("content-type", "application/x-amz-json-1.0")],
                json!({
                    "__type": format!("com.amazonaws.dynamodb.v20120810#{kind}"),
                    "message": "injected fault",
                })
                .to_string(),
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, requests)
}

fn store_at(addr: SocketAddr) -> DynamoDbStore {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(format!("http://{addr}"))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1)),
        )
        .build();
    DynamoDbStore::new(aws_sdk_dynamodb::Client::from_conf(config), "connections")
}

#[tokio::test]
async fn every_operation_fails_with_the_fault_named_after_the_sdks_retries() {
    for (status, kind) in [
        (400, "ThrottlingException"),
        (400, "ProvisionedThroughputExceededException"),
        (500, "InternalServerError"),
        (503, "ServiceUnavailable"),
    ] {
        let (addr, requests) = failing_dynamodb(status, kind).await;
        let store = store_at(addr);
        let conn = Connection::new("a=", SystemTime::now());
        let mut failures = vec![
            ("save", store.save(&conn).await.map(drop)),
            ("get", store.get("a=").await.map(drop)),
            ("delete", store.delete("a=").await.map(drop)),
            (
                "refresh",
                store.refresh("a=", SystemTime::now()).await.map(drop),
            ),
            ("join", store.join("a=", "lobby").await.map(drop)),
            ("leave", store.leave("a=", "lobby").await.map(drop)),
            ("members", collect(store.members("lobby")).await.map(drop)),
            (
                "member_page",
                store.member_page("lobby", None, 10).await.map(drop),
            ),
            (
                "user_connections",
                store.user_connections("ana").await.map(drop),
            ),
            (
                "remove_many",
                store.remove_many(&["a=".to_owned()]).await.map(drop),
            ),
            ("list", store.list().await.map(drop)),
        ];
        for (operation, result) in failures.drain(..) {
            let err = result.expect_err(operation).to_string();
            assert!(err.contains("DynamoDB"), "{kind} {operation}: {err}");
            assert!(
                err.contains(kind) || err.contains(&status.to_string()),
                "{kind} {operation}: {err}"
            );
        }
        // The SDK retried (3 attempts for retryable faults), so more requests than operations.
        assert!(requests.load(Ordering::SeqCst) > 11, "{kind}: no retries");
    }
}

#[tokio::test]
async fn through_the_service_a_throttled_store_refuses_connects_and_answers_error_frames() {
    let (addr, _) = failing_dynamodb(400, "ThrottlingException").await;
    let service = App::new(chat::router())
        .store(store_at(addr))
        .settings(lift_tests::endpoint("http://127.0.0.1:9/unused"))
        .service()
        .await
        .expect("the app\'s service");
    // $connect: the record cannot be stored, so the connection is refused with 500.
    let response = lift_tests::handle_json(&service, connect_event_for("a=")).await;
    assert_eq!(response.status_code, 500);
    // A reply route reading the record answers the store error as an error frame.
    let response = lift_tests::handle_json(&service, message_event("a=", "whoami", "{}")).await;
    let body = match response.body {
        Some(aws_lambda_events::encodings::Body::Text(text)) => text,
        other => panic!("{other:?}"),
    };
    let frame: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(frame["type"], "error", "{frame}");
    assert_eq!(frame["code"], "internal", "{frame}");
    // The process keeps serving: the same service answers the next event.
    let response =
        lift_tests::handle_json(&service, message_event("a=", "nothing-here", "{}")).await;
    assert_eq!(response.status_code, 200);
}
