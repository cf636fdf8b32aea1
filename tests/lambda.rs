//! The Lambda path: real API Gateway WebSocket event shapes (the fixtures shipped in
//! `aws_lambda_events`) through the same `Service` the Lambda runtime calls, with its
//! Management API calls going through the real SDK client to the emulator.

use lift_runtime::store::{ConnectionStore, MemoryStore};
use lift_runtime::{App, Service};
use lift_tests::chat_app::chat;
use lift_tests::events::{connect_event, disconnect_event, fixture, message_event};
use lift_tests::{start, Client};
use serde_json::{json, Value};

fn body(response: &aws_lambda_events::apigw::ApiGatewayProxyResponse) -> Option<Value> {
    match &response.body {
        Some(aws_lambda_events::encodings::Body::Text(text)) => {
            Some(serde_json::from_str(text).unwrap())
        }
        None => None,
        other => panic!("unexpected body {other:?}"),
    }
}

/// The chat app as Lambda runs it, sharing its store with an emulator whose Management API it
/// calls (as API Gateway's would be called in AWS).
async fn lambda_chat(store: &MemoryStore, management_endpoint: &str) -> Service {
    lift_tests::init_tracing();
    App::new(chat::router())
        .store(store.clone())
        .settings(lift_tests::endpoint(management_endpoint))
        .service()
        .await
        .expect("the app's service")
}

#[tokio::test]
async fn connect_stores_the_connection_and_disconnect_removes_it() {
    let store = MemoryStore::new();
    let service = lambda_chat(&store, "http://127.0.0.1:9/unused").await;

    let response = lift_tests::handle_json(&service, connect_event()).await;
    assert_eq!(response.status_code, 200);
    let stored = store.get("TWegAcC4EowCHnA=").await.unwrap().unwrap();
    assert_eq!(stored.user.as_deref(), Some("me"));

    // The disconnect fixture's connection: connect it, then disconnect it.
    let mut connect = connect_event();
    connect["requestContext"]["connectionId"] = "AAAA1234=".into();
    assert_eq!(
        lift_tests::handle_json(&service, connect).await.status_code,
        200
    );
    assert!(store.get("AAAA1234=").await.unwrap().is_some());
    let disconnect = fixture("example-apigw-websocket-request-disconnect-route.json");
    let response = lift_tests::handle_json(&service, disconnect).await;
    assert_eq!(response.status_code, 200);
    assert!(store.get("AAAA1234=").await.unwrap().is_none());
    assert!(store.get("TWegAcC4EowCHnA=").await.unwrap().is_some());
}

/// AWS's sample events as shipped (what `cargo lambda invoke --data-example
/// apigw-websocket-request` sends), with a `connectedAt` from years ago: the chat joins a room in
/// `$connect`, so a record expired on arrival would be refused.
#[tokio::test]
async fn aws_sample_events_as_shipped_are_accepted() {
    let store = MemoryStore::new();
    let service = lambda_chat(&store, "http://127.0.0.1:9/unused").await;
    let path = format!(
        "{}/fixtures/example-apigw-websocket-request.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let stale: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let connected_at = stale["requestContext"]["connectedAt"].as_i64().unwrap();
    assert!(connected_at < 1_700_000_000_000, "the sample is years old");

    let response = lift_tests::handle_json(&service, stale).await;
    assert_eq!(response.status_code, 200, "{:?}", body(&response));
    let stored = store
        .get("TWegAcC4EowCHnA=")
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(stored.user.as_deref(), Some("me"));
    assert!(
        stored.rooms.contains(lift_tests::chat_app::EVERYONE),
        "{stored:?}"
    );
    assert!(stored.expires_at > std::time::SystemTime::now());

    let whoami = message_event("TWegAcC4EowCHnA=", "whoami", r#"{"action":"whoami"}"#);
    let response = lift_tests::handle_json(&service, whoami).await;
    assert_eq!(body(&response).unwrap()["name"], "me");
}

#[tokio::test]
async fn connect_without_a_name_is_refused_and_nothing_is_stored() {
    let store = MemoryStore::new();
    let service = lambda_chat(&store, "http://127.0.0.1:9/unused").await;
    let event = fixture("example-apigw-websocket-request-without-method.json");
    let response = lift_tests::handle_json(&service, event).await;
    assert_eq!(response.status_code, 400);
    assert_eq!(body(&response).unwrap()["code"], "bad_request");
    assert!(store.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_reply_route_answers_in_the_lambda_response() {
    let store = MemoryStore::new();
    let service = lambda_chat(&store, "http://127.0.0.1:9/unused").await;
    lift_tests::handle_json(&service, connect_event()).await;

    let event = message_event("TWegAcC4EowCHnA=", "whoami", r#"{"action":"whoami"}"#);
    let response = lift_tests::handle_json(&service, event).await;
    assert_eq!(response.status_code, 200);
    assert_eq!(
        body(&response),
        Some(json!({"type": "whoami", "name": "me", "connectionId": "TWegAcC4EowCHnA="}))
    );
}

#[tokio::test]
async fn one_way_routes_answer_through_the_management_api() {
    let store = MemoryStore::new();
    let emulator = start(App::new(chat::router()).store(store.clone())).await;
    let service = lambda_chat(&store, &emulator.management_endpoint()).await;
    let mut ana = Client::join(&emulator, "ana").await;
    let ana_id = ana.connection_id().await;

    // "me" connects through Lambda and says hello: everyone stored receives it, through the
    // SDK client posting to the Management API (the fixture's own connection is not live: its
    // 410 is tolerated).
    lift_tests::handle_json(&service, connect_event()).await;
    let event = message_event(
        "TWegAcC4EowCHnA=",
        "sendMessage",
        r#"{"action":"sendMessage","text":"from lambda"}"#,
    );
    let response = lift_tests::handle_json(&service, event).await;
    assert_eq!(response.status_code, 200);
    assert_eq!(body(&response), None);
    assert_eq!(
        ana.recv_json().await,
        json!({"type": "message", "from": "me", "text": "from lambda"})
    );

    // An error on a one-way route is posted to the caller as an error frame.
    let event = message_event(&ana_id, "sendMessage", r#"{"action":"sendMessage"}"#);
    let response = lift_tests::handle_json(&service, event).await;
    assert_eq!(response.status_code, 200);
    let frame = ana.recv_json().await;
    assert_eq!(
        (frame["type"].as_str(), frame["code"].as_str()),
        (Some("error"), Some("invalid_body"))
    );

    // So is an unknown route (API Gateway sends it to $default; the chat has no handler).
    let event = message_event(&ana_id, "$default", "not json");
    lift_tests::handle_json(&service, event).await;
    assert_eq!(ana.recv_json().await["code"], "unknown_route");
}

#[tokio::test]
async fn malformed_events_are_answered_400_and_the_service_keeps_working() {
    let store = MemoryStore::new();
    let service = lambda_chat(&store, "http://127.0.0.1:9/unused").await;
    let mut no_route = connect_event();
    no_route["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("routeKey");
    let mut no_domain = connect_event();
    no_domain["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("domainName");
    for event in [
        json!({"hello": "world"}),
        json!([1, 2]),
        json!(null),
        no_route,
    ] {
        let response = lift_tests::handle_json(&service, event.clone()).await;
        assert_eq!(response.status_code, 400, "{event}");
        assert_eq!(body(&response).unwrap()["code"], "invalid_event", "{event}");
    }
    // Without domainName the endpoint is unknown, unless one is configured (as here).
    assert_eq!(
        lift_tests::handle_json(&service, no_domain)
            .await
            .status_code,
        200
    );
    assert_eq!(
        lift_tests::handle_json(&service, connect_event())
            .await
            .status_code,
        200
    );
}

#[lift_runtime::ws_app]
mod fragile {
    use lift_runtime::prelude::*;

    #[ws_route("boom", reply)]
    async fn boom() -> WsResult<Reply> {
        panic!("the handler blew up");
    }

    #[ws_route("fine", reply)]
    async fn fine() -> WsResult<Reply> {
        Ok(Reply::text("fine"))
    }

    #[ws_disconnect]
    async fn goodbye(ctx: &WsContext) -> WsResult {
        if ctx.connection_id() == "panics=" {
            panic!("the disconnect handler blew up");
        }
        Ok(())
    }

    /// A base64 body (`isBase64Encoded`, e.g. from an integration's `CONVERT_TO_BINARY`).
    #[ws_default(reply)]
    async fn bytes(body: Vec<u8>) -> WsResult<Reply> {
        Ok(Reply::text(format!("{body:?}")))
    }
}

#[tokio::test]
async fn a_panicking_disconnect_handler_still_forgets_the_connection() {
    let store = MemoryStore::new();
    let service = App::new(fragile::router())
        .store(store.clone())
        .settings(lift_tests::endpoint("http://127.0.0.1:9/unused"))
        .service()
        .await
        .expect("the app\'s service");
    for id in ["panics=", "calm="] {
        let response =
            lift_tests::handle_json(&service, lift_tests::events::connect_event_for(id)).await;
        assert_eq!(response.status_code, 200);
    }
    let response = lift_tests::handle_json(&service, disconnect_event("panics=")).await;
    // API Gateway ignores $disconnect's answer; the record goes all the same.
    assert_eq!(response.status_code, 200);
    assert!(store.get("panics=").await.unwrap().is_none());
    // The process serves the next event.
    let response = lift_tests::handle_json(&service, message_event("calm=", "fine", "{}")).await;
    assert!(
        matches!(response.body, Some(aws_lambda_events::encodings::Body::Text(ref t)) if t == "fine"),
        "{:?}",
        response.body
    );
}

#[tokio::test]
async fn base64_bodies_are_decoded_and_bad_base64_is_an_invalid_body() {
    let service = App::new(fragile::router())
        .settings(lift_tests::endpoint("http://127.0.0.1:9/unused"))
        .service()
        .await
        .expect("the app\'s service");
    let mut event = message_event("TWegAcC4EowCHnA=", "$default", "AJ+Slg==");
    event["isBase64Encoded"] = json!(true);
    let response = lift_tests::handle_json(&service, event.clone()).await;
    assert!(
        matches!(response.body, Some(aws_lambda_events::encodings::Body::Text(ref t)) if t == "[0, 159, 146, 150]"),
        "{:?}",
        response.body
    );
    event["body"] = json!("not base64!");
    let response = lift_tests::handle_json(&service, event).await;
    let frame = body(&response).unwrap();
    assert_eq!(frame["code"], "invalid_body", "{frame}");
    assert!(
        frame["message"]
            .as_str()
            .unwrap()
            .contains("not valid base64"),
        "{frame}"
    );
}

#[tokio::test]
async fn a_panicking_handler_is_an_internal_error_and_the_service_keeps_working() {
    lift_tests::init_tracing();
    let service = App::new(fragile::router())
        .settings(lift_tests::endpoint("http://127.0.0.1:9/unused"))
        .service()
        .await
        .expect("the app\'s service");
    for _ in 0..2 {
        let event = message_event("TWegAcC4EowCHnA=", "boom", r#"{"action":"boom"}"#);
        let response = lift_tests::handle_json(&service, event).await;
        assert_eq!(response.status_code, 200);
        assert_eq!(
            body(&response),
            Some(json!({"type": "error", "code": "internal", "message": "the handler failed"}))
        );
    }
    let event = message_event("TWegAcC4EowCHnA=", "fine", r#"{"action":"fine"}"#);
    let response = lift_tests::handle_json(&service, event).await;
    assert!(
        matches!(response.body, Some(aws_lambda_events::encodings::Body::Text(ref t)) if t == "fine")
    );
}

#[tokio::test]
async fn the_service_can_be_wrapped_in_tower_layers() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tower::{ServiceBuilder, ServiceExt};

    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let store = MemoryStore::new();
    let service = App::new(chat::router())
        .store(store.clone())
        .settings(lift_tests::endpoint("http://127.0.0.1:9/unused"))
        .service()
        .await
        .expect("the app\'s service");
    let layered = ServiceBuilder::new()
        .map_request(move |event: lambda_runtime::LambdaEvent<Value>| {
            counter.fetch_add(1, Ordering::SeqCst);
            event
        })
        .service(service);
    let mut context = lambda_runtime::Context::default();
    context.deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 10_000;
    let event = lambda_runtime::LambdaEvent::new(connect_event(), context.clone());
    let response = layered.clone().oneshot(event).await.unwrap();
    assert_eq!(lift_tests::websocket(response).status_code, 200);
    let event = lambda_runtime::LambdaEvent::new(
        message_event("TWegAcC4EowCHnA=", "whoami", r#"{"action":"whoami"}"#),
        context,
    );
    let response = layered.oneshot(event).await.unwrap();
    assert_eq!(
        body(&lift_tests::websocket(response)).unwrap()["name"],
        "me"
    );
    assert_eq!(seen.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_testing_event_builder_makes_events_the_service_accepts() {
    use lift_runtime::store::ConnectionStore;
    use lift_runtime::testing::Event;

    let store = MemoryStore::new();
    let service = lambda_chat(&store, "http://127.0.0.1:9/unused").await;
    let event = Event::connect("built=").query("name", "ana").build();
    // The shape is the one aws_lambda_events knows...
    let parsed: aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest =
        serde_json::from_value(event.clone()).unwrap();
    assert_eq!(
        parsed.request_context.route_key.as_deref(),
        Some("$connect")
    );
    // ...and the chat handles it like the fixtures: stored under its name...
    assert_eq!(
        lift_tests::handle_json(&service, event).await.status_code,
        200
    );
    let stored = store.get("built=").await.unwrap().unwrap();
    assert_eq!(stored.user.as_deref(), Some("ana"));
    // ...answers a reply route...
    let whoami = Event::message("built=", "whoami", r#"{"action":"whoami"}"#).build();
    let response = lift_tests::handle_json(&service, whoami).await;
    assert_eq!(body(&response).unwrap()["name"], "ana");
    // ...and forgets it on $disconnect.
    let bye = Event::disconnect("built=", 1001, "going away").build();
    assert_eq!(
        lift_tests::handle_json(&service, bye).await.status_code,
        200
    );
    assert!(store.get("built=").await.unwrap().is_none());
}

#[lift_runtime::ws_app]
mod lobby {
    use lift_runtime::prelude::*;

    #[ws_connect]
    async fn connect(ctx: &mut WsContext) -> WsResult {
        ctx.join("lobby").await?;
        ctx.join("lobby").await?; // twice is once
        ctx.join("tmp").await?;
        ctx.leave("tmp").await?;
        Ok(())
    }
}

#[tokio::test]
async fn rooms_joined_in_connect_are_joined_once_the_connection_is_saved() {
    use lift_runtime::store::{collect, ConnectionStore};
    use lift_runtime::testing::Event;

    let store = MemoryStore::new();
    let service = App::new(lobby::router())
        .store(store.clone())
        .settings(lift_tests::endpoint("http://127.0.0.1:9/unused"))
        .service()
        .await
        .expect("the app\'s service");
    let response = lift_tests::handle_json(&service, Event::connect("lobbyist=").build()).await;
    assert_eq!(response.status_code, 200);
    let stored = store.get("lobbyist=").await.unwrap().unwrap();
    assert_eq!(stored.rooms.iter().collect::<Vec<_>>(), ["lobby"]);
    let members = collect(store.members("lobby")).await.unwrap();
    assert_eq!(members.len(), 1);
    assert!(collect(store.members("tmp")).await.unwrap().is_empty());

    // If a room cannot be joined, the connection is refused and nothing of it stays.
    let failing = lift_tests::faults::FaultyStore {
        fail_join: true,
        ..Default::default()
    };
    let service = App::new(lobby::router())
        .store(failing.clone())
        .settings(lift_tests::endpoint("http://127.0.0.1:9/unused"))
        .service()
        .await
        .expect("the app\'s service");
    let response = lift_tests::handle_json(&service, Event::connect("unlucky=").build()).await;
    assert_eq!(response.status_code, 500);
    assert_eq!(body(&response).unwrap()["code"], "internal");
    assert!(failing.inner.get("unlucky=").await.unwrap().is_none());
}

/// A `$connect` that asks who connects and for its record, as the chat's does.
#[lift_runtime::ws_app]
mod curious {
    use lift_runtime::prelude::*;

    #[ws_connect]
    async fn connect(ctx: &mut WsContext) -> WsResult {
        assert!(ctx.identity().await?.is_none());
        assert!(ctx.connection().await?.is_none());
        ctx.set_user("ana");
        ctx.join("lobby").await?;
        Ok(())
    }

    #[ws_route("whoami", reply)]
    async fn whoami(ctx: &WsContext) -> WsResult<Reply> {
        let user = ctx.connection().await?.and_then(|c| c.user.clone());
        Ok(Reply::text(user.unwrap_or_default()))
    }
}

/// In `$connect` the connection is not stored yet: asking for its record or its identity reads
/// nothing (a DynamoDB `GetItem` a connection, found by `cargo bench --bench lambda`); after
/// it, the record is read once per event.
#[tokio::test]
async fn connect_reads_no_record_from_the_store() {
    use lift_runtime::testing::Event;
    use std::sync::atomic::Ordering;

    let store = lift_tests::faults::FaultyStore::default();
    let service = App::new(curious::router())
        .store(store.clone())
        .settings(lift_tests::endpoint("http://127.0.0.1:9/unused"))
        .service()
        .await
        .expect("the app's service");
    let response = lift_tests::handle_json(&service, Event::connect("ana=").build()).await;
    assert_eq!(response.status_code, 200);
    assert_eq!(
        store.gets.load(Ordering::SeqCst),
        0,
        "no record read in $connect"
    );
    assert!(store.inner.get("ana=").await.unwrap().is_some());
    let event = Event::message("ana=", "whoami", r#"{"action":"whoami"}"#).build();
    let response = lift_tests::handle_json(&service, event).await;
    assert!(
        matches!(response.body, Some(aws_lambda_events::encodings::Body::Text(ref t)) if t == "ana"),
        "{:?}",
        response.body
    );
    assert_eq!(store.gets.load(Ordering::SeqCst), 1);
}
