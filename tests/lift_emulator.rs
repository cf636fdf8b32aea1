//! lift-emulator: the emulator in front of functions behind a Lambda Invoke API, reading the
//! WebSocket API from a SAM template. Here the Invoke API is served by the test around the
//! chat's own `Service` (a function as `lambda_runtime` would run it), so faults can be
//! injected: a function error, an answer too late, an answer that is not JSON, an Invoke API
//! that is not there. Each gets what API Gateway answers, and the connection and the emulator
//! go on. (`scripts/check-starter` runs the real thing: the starter under `cargo lambda
//! watch`.)

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use lift_runtime::store::{ConnectionStore, MemoryStore};
use lift_runtime::{App, LambdaResponse, Service};
use lift_tests::{chat_app, init_tracing, Client};
use serde_json::{json, Value};

/// The function: the chat's service, and the names it was invoked by.
struct Function {
    service: Service,
    store: MemoryStore,
    names: Mutex<Vec<String>>,
}

async fn invocations(
    State(function): State<Arc<Function>>,
    Path(name): Path<String>,
    axum::Json(event): axum::Json<Value>,
) -> Response {
    function.names.lock().unwrap().push(name);
    let body = event["body"].as_str().unwrap_or_default();
    let name = &event["queryStringParameters"]["name"];
    if body.contains(r#""text":"fail""#) || name.as_str() == Some("fail") {
        // A panic or an error returned by the handler: Lambda's function error.
        let error = json!({"errorMessage": "boom", "errorType": "&str"});
        return ([("x-amz-function-error", "Unhandled")], axum::Json(error)).into_response();
    }
    if body.contains(r#""text":"garbage""#) {
        return "this is not JSON".into_response();
    }
    let slow = body.contains(r#""text":"slow""#);
    // Run to the end even when the caller gives up, as a Lambda function does.
    let answer = tokio::spawn(async move {
        if slow {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        function.service.handle(event).await
    });
    match answer.await.unwrap() {
        // `lambda_runtime` answers an authorizer's refusal as the error `Unauthorized`.
        LambdaResponse::Unauthorized => {
            let error = json!({"errorMessage": "Unauthorized", "errorType": "&str"});
            ([("x-amz-function-error", "Unhandled")], axum::Json(error)).into_response()
        }
        answer => axum::Json(serde_json::to_value(answer).unwrap()).into_response(),
    }
}

/// An Invoke API around the chat; its base URL and the function.
async fn invoke_api() -> (String, Arc<Function>) {
    let app = App::new(chat_app::chat::router()).settings(lift_runtime::Settings::default());
    invoke_api_of(app).await
}

/// An Invoke API around `app`.
async fn invoke_api_of(app: App) -> (String, Arc<Function>) {
    let store = MemoryStore::new();
    let service = app.store(store.clone()).service().await.unwrap();
    let function = Arc::new(Function {
        service,
        store,
        names: Mutex::new(Vec::new()),
    });
    let routes = axum::Router::new()
        .route(
            "/2015-03-31/functions/{name}/invocations",
            axum::routing::post(invocations),
        )
        .with_state(function.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, routes).await.unwrap() });
    (format!("http://{addr}"), function)
}

/// The chat's generated template, its integration's timeout at one second.
fn template() -> Value {
    let mut template = lift_runtime::deploy::Template::new(&chat_app::chat::router()).to_json();
    template["Resources"]["Integration"]["Properties"]["TimeoutInMillis"] = json!(1000);
    template
}

fn config() -> lift_runtime::settings::LocalSettings {
    lift_runtime::settings::LocalSettings {
        addr: "127.0.0.1:0".parse().unwrap(),
        any_access_key: false,
        ..Default::default()
    }
}

async fn join(url: &str, name: &str) -> Client {
    Client::try_connect(&format!("{url}/?name={name}"))
        .await
        .unwrap_or_else(|status| panic!("{name}: handshake refused with {status}"))
}

#[tokio::test]
async fn the_chat_runs_behind_the_invoke_api_and_every_fault_gets_api_gateways_answer() {
    init_tracing();
    let (invoke, function) = invoke_api().await;
    let emulator =
        lift_runtime::__emulator::start(&template(), &invoke, &["chat".into()], config())
            .await
            .unwrap();
    let url = emulator.url();
    let mut ana = join(&url, "ana").await;
    let mut bob = join(&url, "bob").await;

    // The protocol: a broadcast through the emulator's Management API, a two-way reply.
    ana.send_json(json!({"action": "sendMessage", "text": "hello"}))
        .await;
    let said = json!({"type": "message", "from": "ana", "text": "hello"});
    assert_eq!(ana.recv_json().await, said);
    assert_eq!(bob.recv_json().await, said);
    let ana_id = ana.connection_id().await;
    assert!(
        function
            .names
            .lock()
            .unwrap()
            .iter()
            .all(|name| name == "chat"),
        "--function chat names every function"
    );

    // A function error: `Internal server error`, as API Gateway sends it, to the sender only.
    ana.send_json(json!({"action": "sendMessage", "text": "fail"}))
        .await;
    let error = ana.recv_json().await;
    assert_eq!(error["message"], "Internal server error", "{error}");
    assert_eq!(error["connectionId"], ana_id.as_str());
    assert!(error["requestId"].as_str().is_some_and(|id| !id.is_empty()));
    // An answer that is not an API Gateway response is one too.
    ana.send_json(json!({"action": "sendMessage", "text": "garbage"}))
        .await;
    assert_eq!(ana.recv_json().await["message"], "Internal server error");
    // Later than the integration's timeout (1 s in the template): the timeout error frame.
    ana.send_json(json!({"action": "sendMessage", "text": "slow"}))
        .await;
    assert_eq!(ana.recv_json().await["code"], "timeout");

    // The connection goes on, and so does everyone else's.
    ana.send_json(json!({"action": "sendMessage", "text": "still here"}))
        .await;
    // (The slow invocation still finishes, as a Lambda function does after API Gateway gave
    // up on it: its broadcast comes later.)
    for client in [&mut ana, &mut bob] {
        let mut texts = vec![client.recv_json().await, client.recv_json().await];
        texts.sort_by_key(|frame| frame["text"].to_string());
        let said = |text| json!({"type": "message", "from": "ana", "text": text});
        assert_eq!(texts, [said("slow"), said("still here")]);
    }

    // A `$connect` that fails is a 500 handshake; nothing is left behind.
    let refused = Client::try_connect(&format!("{url}/?name=fail"))
        .await
        .err();
    assert_eq!(refused, Some(500));
    // The function's own refusal is the handshake's status.
    assert_eq!(Client::try_connect(&url).await.err(), Some(400));

    // `$disconnect` reaches the function: bob is gone from the room.
    bob.close(1000, "bye").await;
    lift_tests::eventually("bob's $disconnect stored", || async {
        function.store.list().await.unwrap().len() == 1
    })
    .await;
    emulator.shutdown().await;
}

#[tokio::test]
async fn without_a_default_route_an_unknown_action_is_forbidden_and_a_missing_invoke_api_is_500() {
    init_tracing();
    let (invoke, function) = invoke_api().await;
    let mut template = template();
    template["Resources"]
        .as_object_mut()
        .unwrap()
        .remove("RouteDefault");
    // Functions are invoked by their logical id unless named.
    let emulator = lift_runtime::__emulator::start(&template, &invoke, &[], config())
        .await
        .unwrap();
    let mut ana = join(&emulator.url(), "ana").await;
    let id = ana.connection_id().await;
    ana.send_json(json!({"action": "dance"})).await;
    let forbidden = ana.recv_json().await;
    assert_eq!(forbidden["message"], "Forbidden", "{forbidden}");
    assert_eq!(forbidden["connectionId"], id.as_str());
    assert!(function
        .names
        .lock()
        .unwrap()
        .iter()
        .all(|name| name == "Function"));
    emulator.shutdown().await;

    // Nothing listening where the Invoke API should be: every handshake is a 500, and the
    // emulator keeps serving.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let emulator = lift_runtime::__emulator::start(&template, &closed, &[], config())
        .await
        .unwrap();
    for _ in 0..2 {
        let refused = Client::try_connect(&format!("{}/?name=ana", emulator.url()))
            .await
            .err();
        assert_eq!(refused, Some(500));
    }
    emulator.shutdown().await;

    // A template without a WebSocket API is refused with the reason.
    let err = lift_runtime::__emulator::start(&json!({"Resources": {}}), &invoke, &[], config())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("WEBSOCKET"), "{err}");
}

#[tokio::test]
async fn the_templates_authorizer_runs_before_connect_and_its_context_reaches_every_event() {
    use lift_tests::guarded::{self, connect_ran, token, PAGE, SECRET};
    init_tracing();
    let settings = lift_runtime::Settings {
        authorizer: true,
        ..Default::default()
    };
    let (invoke, _) = invoke_api_of(guarded::app().settings(settings)).await;
    let mut template = lift_runtime::deploy::Template::new(&guarded::routes::router());
    template.authorizer = Some(vec![]);
    let emulator = lift_runtime::__emulator::start(&template.to_json(), &invoke, &[], config())
        .await
        .unwrap();
    let url = |label: &str, token: Option<&str>| match token {
        Some(token) => format!("{}/?label={label}&token={token}", emulator.url()),
        None => format!("{}/?label={label}", emulator.url()),
    };
    // The function's `Unauthorized` error is a 401, its Deny policy a 403; `$connect` never
    // runs.
    let refused = Client::try_connect_with_header(&url("x1", None), "origin", PAGE).await;
    assert_eq!(refused.err(), Some(401));
    let valid = token("u-3", 600, SECRET);
    let refused =
        Client::try_connect_with_header(&url("x2", Some(&valid)), "origin", "https://evil.example")
            .await;
    assert_eq!(refused.err(), Some(403));
    assert!(!connect_ran("x1") && !connect_ran("x2"));
    // Allowed: the policy's context and principal reach `$connect` and every later event.
    let mut client = Client::try_connect_with_header(&url("x3", Some(&valid)), "origin", PAGE)
        .await
        .expect("allowed");
    assert!(connect_ran("x3"));
    client.send_json(json!({"action": "whoami"})).await;
    let reply = client.recv_json().await;
    assert_eq!(reply["identity"]["sub"], "u-3", "{reply}");
    assert_eq!(reply["principal"], "u-3", "{reply}");
    emulator.shutdown().await;
}
