//! Observability and protection middleware: EMF metric lines checked against the Embedded
//! Metric Format's required fields, JSON logs with the event's span, the per-connection rate
//! limit, and a panicking middleware.

use lift_runtime::observe::{lambda_subscriber, Metrics, RateLimit};
use lift_runtime::prelude::*;
use lift_runtime::store::MemoryStore;
use lift_runtime::App;
use lift_tests::events::{connect_event_for, disconnect_event, message_event};
use lift_tests::{start, Buffer, Client};
use serde_json::{json, Value};
use tracing::instrument::WithSubscriber;

#[ws_app]
mod app {
    use lift_runtime::prelude::*;

    #[ws_route("ok", reply)]
    async fn ok(body: String) -> WsResult<Reply> {
        Ok(Reply::text(body))
    }

    #[ws_route("fail", reply)]
    async fn fail() -> WsResult<Reply> {
        Err(WsError::bad_request("no"))
    }

    /// What a handler sees when the store fails.
    #[ws_route("store", reply)]
    async fn store() -> WsResult<Reply> {
        Err(lift_runtime::StoreError::new("the table is unreachable", None).into())
    }
}

/// Checks one line against the EMF specification's required fields.
fn check_emf(line: &Value) {
    let aws = &line["_aws"];
    assert!(
        aws["Timestamp"].is_u64(),
        "Timestamp is an integer of ms: {line}"
    );
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics array");
    assert!(!directives.is_empty());
    for directive in directives {
        let namespace = directive["Namespace"].as_str().expect("Namespace");
        assert!(!namespace.is_empty() && namespace.len() <= 1024);
        for set in directive["Dimensions"].as_array().expect("Dimensions") {
            let set = set.as_array().expect("a dimension set is an array");
            assert!(set.len() <= 30);
            for dimension in set {
                let name = dimension.as_str().expect("dimension names are strings");
                assert!(
                    line[name].is_string(),
                    "dimension `{name}` is a string member: {line}"
                );
            }
        }
        let metrics = directive["Metrics"].as_array().expect("Metrics");
        assert!(!metrics.is_empty() && metrics.len() <= 100);
        for metric in metrics {
            let name = metric["Name"].as_str().expect("metric Name");
            assert!(
                line[name].is_number(),
                "metric `{name}` has a number value: {line}"
            );
            let unit = metric["Unit"].as_str().unwrap_or("None");
            assert!(
                ["Count", "Milliseconds", "Bytes", "None"].contains(&unit),
                "{unit}"
            );
        }
    }
}

#[tokio::test]
async fn metrics_are_one_valid_emf_line_per_event() {
    let buffer = Buffer::default();
    let service = App::new(app::router())
        .middleware(Metrics::to_writer("Lift/Test", buffer.clone()))
        .settings(lift_tests::endpoint("http://127.0.0.1:9/unused"))
        .service()
        .await
        .expect("the app\'s service");
    lift_tests::handle_json(&service, connect_event_for("m=")).await;
    lift_tests::handle_json(&service, message_event("m=", "ok", r#"{"action":"ok"}"#)).await;
    lift_tests::handle_json(
        &service,
        message_event("m=", "fail", r#"{"action":"fail"}"#),
    )
    .await;
    lift_tests::handle_json(
        &service,
        message_event("m=", "store", r#"{"action":"store"}"#),
    )
    .await;
    lift_tests::handle_json(&service, disconnect_event("m=")).await;

    let lines = buffer.lines();
    assert_eq!(lines.len(), 5, "{lines:?}");
    for line in &lines {
        check_emf(line);
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "Lift/Test"
        );
        assert_eq!(line["Events"], 1);
    }
    let routes: Vec<&str> = lines.iter().map(|l| l["Route"].as_str().unwrap()).collect();
    assert_eq!(routes, ["$connect", "ok", "fail", "store", "$disconnect"]);
    let counts =
        |metric: &str| -> Vec<u64> { lines.iter().map(|l| l[metric].as_u64().unwrap()).collect() };
    assert_eq!(counts("Errors"), [0, 0, 1, 1, 0]);
    // A failed store request is an error, and a store error (what the template's alarm
    // watches).
    assert_eq!(counts("StoreErrors"), [0, 0, 0, 1, 0]);
    // Every metric per route and across routes.
    assert_eq!(
        lines[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        serde_json::json!([["Route"], []])
    );
    assert_eq!(lines[1]["MessageSize"], r#"{"action":"ok"}"#.len());
}

#[tokio::test]
async fn lambda_logs_are_json_lines_carrying_the_event() {
    let buffer = Buffer::default();
    let service = App::new(app::router())
        .settings(lift_tests::endpoint("http://127.0.0.1:9/unused"))
        .service()
        .await
        .expect("the app\'s service");
    let event = message_event("logged=", "fail", r#"{"action":"fail"}"#);
    lift_tests::invoke(&service, event, "req-123", None)
        .with_subscriber(lambda_subscriber(buffer.clone(), "info"))
        .await;
    let lines = buffer.lines();
    let line = lines
        .iter()
        .find(|l| l["fields"]["message"] == "handler error")
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["fields"]["code"], "bad_request");
    assert_eq!(line["fields"]["reason"], "no");
    let span = &line["span"];
    assert_eq!(span["name"], "ws_event");
    assert_eq!(span["request_id"], "req-123");
    assert_eq!(span["connection_id"], "logged=");
    assert_eq!(span["route_key"], "fail");
    assert_eq!(span["event_type"], "MESSAGE");
}

#[tokio::test]
async fn the_rate_limit_answers_an_error_frame_and_keeps_the_connection() {
    let emulator = start(
        App::new(lift_tests::chat_app::chat::router())
            .middleware(RateLimit::per_connection(0.001, 3)),
    )
    .await;
    let mut ana = Client::join(&emulator, "ana").await;
    let mut bob = Client::join(&emulator, "bob").await;
    for i in 0..3 {
        ana.send_json(json!({"action": "sendMessage", "text": format!("m{i}")}))
            .await;
        assert_eq!(ana.recv_json().await["text"], format!("m{i}"));
    }
    ana.send_json(json!({"action": "sendMessage", "text": "one too many"}))
        .await;
    let frame = ana.recv_json().await;
    assert_eq!(
        (frame["type"].as_str(), frame["code"].as_str()),
        (Some("error"), Some("rate_limited")),
        "{frame}"
    );
    // Bob got the three messages, and has a bucket of his own.
    for i in 0..3 {
        assert_eq!(bob.recv_json().await["text"], format!("m{i}"));
    }
    assert_eq!(bob.whoami().await["name"], "bob");
}

#[ws_middleware]
async fn explode(ctx: &mut WsContext, next: Next<'_>) -> WsResult<Option<Reply>> {
    if ctx.body().is_some_and(|body| body.contains("explode")) {
        panic!("the middleware blew up");
    }
    next.run(ctx).await
}

#[tokio::test]
async fn a_panicking_middleware_is_a_500_frame_and_the_process_goes_on() {
    let store = MemoryStore::new();
    let emulator = start(App::new(app::router()).store(store).middleware(explode)).await;
    let mut client = Client::try_connect(&emulator.url()).await.unwrap();
    client
        .send_json(json!({"action": "ok", "explode": true}))
        .await;
    let frame = client.recv_json().await;
    assert_eq!(
        (frame["code"].as_str(), frame["message"].as_str()),
        (Some("internal"), Some("the handler failed")),
        "{frame}"
    );
    client.send_json(json!({"action": "ok"})).await;
    assert_eq!(client.recv_json().await, json!({"action": "ok"}));
}
