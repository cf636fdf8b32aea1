//! The function as API Gateway's Lambda REQUEST authorizer on `$connect`: the authorizer's
//! requests (AWS's shape, from `aws_lambda_events`' fixture) answered with policies, `$connect`
//! and later events reading the claims from the authorizer context, and the emulator running
//! the authorizer before `$connect` for real WebSocket clients.

use lift_runtime::store::ConnectionStore;
use lift_runtime::testing::{Event, TestApp};
use lift_runtime::{LambdaResponse, Settings};
use lift_tests::guarded::{self, connect_ran, multi, token, PAGE, SECRET};
use lift_tests::{handle_json, Client};
use serde_json::{json, Value};

fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// AWS's authorizer request for a handshake with these query parameters and headers.
fn authorizer_request(query: Value, headers: Value) -> Value {
    let mut request = fixture("example-apigw-v2-custom-authorizer-websocket-request.json");
    request["multiValueQueryStringParameters"] = multi(&query);
    request["queryStringParameters"] = query;
    request["multiValueHeaders"] = multi(&headers);
    request["headers"] = headers;
    request
}

const METHOD_ARN: &str = "arn:aws:execute-api:eu-west-1:123456789012:abcdef123/test/$connect";

/// The authorizer context API Gateway puts in every event of an allowed connection: the
/// answer's context, its principal and the latency.
fn passed_on(answer: &Value) -> Value {
    let mut context = answer["context"].clone();
    context["principalId"] = answer["principalId"].clone();
    context["integrationLatency"] = json!(12);
    context
}

#[tokio::test]
async fn authorizer_requests_get_policies_and_connections_carry_the_claims() {
    lift_tests::init_tracing();
    let store = lift_runtime::store::MemoryStore::new();
    let service = guarded::app().store(store.clone()).service().await.unwrap();
    let ask = |query: Value, headers: Value| {
        let service = service.clone();
        async move { service.handle(authorizer_request(query, headers)).await }
    };
    let page = json!({"Origin": PAGE});

    // A valid token from an allowed page: Allow on the method, the claims in the context.
    let valid = token("u-1", 600, SECRET);
    let answer = ask(json!({"token": valid, "label": "a1"}), page.clone()).await;
    let LambdaResponse::Authorizer(answer) = answer else {
        panic!("not a policy: {answer:?}")
    };
    let answer = serde_json::to_value(&answer).unwrap();
    assert_eq!(answer["principalId"], "u-1");
    let statement = &answer["policyDocument"]["Statement"][0];
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(statement["Action"], json!(["execute-api:Invoke"]));
    assert_eq!(statement["Resource"], json!([METHOD_ARN]));
    let claims: Value =
        serde_json::from_str(answer["context"]["liftClaims"].as_str().unwrap()).unwrap();
    assert_eq!(
        (claims["sub"].as_str(), claims["name"].as_str()),
        (Some("u-1"), Some("Ana"))
    );
    // Context values are strings, numbers or booleans, as API Gateway requires.
    for value in answer["context"].as_object().unwrap().values() {
        assert!(value.is_string() || value.is_number() || value.is_boolean());
    }

    // No token, an expired one, a forged one: `Unauthorized` (API Gateway's 401).
    let expired = token("u-1", -3600, SECRET);
    let forged = token("u-1", 600, b"another secret, long enough for HS256 too");
    for query in [
        json!({}),
        json!({"token": expired}),
        json!({"token": forged}),
    ] {
        let answer = ask(query.clone(), page.clone()).await;
        assert!(
            matches!(answer, LambdaResponse::Unauthorized),
            "{query}: {answer:?}"
        );
    }
    // A valid token from a page not allowed: a Deny policy (API Gateway's 403).
    let answer = ask(
        json!({"token": valid}),
        json!({"Origin": "https://evil.example"}),
    )
    .await;
    let LambdaResponse::Authorizer(denied) = answer else {
        panic!("not a policy: {answer:?}")
    };
    let denied = serde_json::to_value(&denied).unwrap();
    assert_eq!(denied["policyDocument"]["Statement"][0]["Effect"], "Deny");
    assert!(denied["context"].get("liftClaims").is_none());
    // The authorizer runs no `$connect` handler, and stores nothing.
    assert!(!connect_ran("a1"));
    assert!(store.list().await.unwrap().is_empty());

    // `$connect` with the context API Gateway passes on: no token needed, the claims kept.
    let context = passed_on(&answer_of(&service, &valid).await);
    let mut connect = Event::connect("auth-1=")
        .query("label", "a1")
        .header("origin", PAGE)
        .build();
    connect["requestContext"]["authorizer"] = context.clone();
    assert_eq!(
        handle_json(&service, connect.clone()).await.status_code,
        200
    );
    assert!(connect_ran("a1"));
    let record = store.get("auth-1=").await.unwrap().expect("stored");
    assert_eq!(record.metadata["claims"]["sub"], "u-1");
    // Without that context (a deployment without the authorizer), a token is required.
    let mut bare = connect.clone();
    bare["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    bare["requestContext"]["connectionId"] = json!("auth-2=");
    assert_eq!(handle_json(&service, bare).await.status_code, 401);
    assert!(store.get("auth-2=").await.unwrap().is_none());

    // A later event carries the context too: the identity is read from it.
    let mut message = Event::message("auth-1=", "whoami", r#"{"action":"whoami"}"#).build();
    message["requestContext"]["authorizer"] = context;
    let reply = handle_json(&service, message).await;
    let body: Value = match reply.body {
        Some(aws_lambda_events::encodings::Body::Text(text)) => {
            serde_json::from_str(&text).unwrap()
        }
        other => panic!("no reply: {other:?}"),
    };
    assert_eq!(body["identity"]["sub"], "u-1");
    assert_eq!(body["principal"], "u-1");
}

/// The context of the answer to a valid token's authorizer request.
async fn answer_of(service: &lift_runtime::Service, token: &str) -> Value {
    let request = authorizer_request(json!({"token": token}), json!({"Origin": PAGE}));
    match service.handle(request).await {
        LambdaResponse::Authorizer(answer) => serde_json::to_value(&answer).unwrap(),
        other => panic!("not a policy: {other:?}"),
    }
}

#[tokio::test]
async fn an_app_with_nothing_to_authorize_with_answers_invalid_event() {
    let service = lift_runtime::App::new(guarded::routes::router())
        .service()
        .await
        .unwrap();
    let request = authorizer_request(json!({}), json!({}));
    let response = handle_json(&service, request).await;
    assert_eq!(response.status_code, 400);
    let body = format!("{:?}", response.body);
    assert!(
        body.contains("invalid_event") && body.contains("JwtAuth"),
        "{body}"
    );
}

#[tokio::test]
async fn the_emulator_runs_the_authorizer_before_connect() {
    lift_tests::init_tracing();
    let settings = Settings {
        authorizer: true,
        ..Settings::default()
    };
    let emulator = TestApp::start(guarded::app().settings(settings)).await;
    let url = |label: &str, token: Option<&str>| match token {
        Some(token) => format!("{}/?label={label}&token={token}", emulator.url()),
        None => format!("{}/?label={label}", emulator.url()),
    };
    let valid = token("u-2", 600, SECRET);
    let expired = token("u-2", -3600, SECRET);

    // Refused by the authorizer: 401 without a valid token, 403 from a page not allowed; the
    // `$connect` handler never runs and nothing is stored.
    let refused = Client::try_connect_with_header(&url("e1", None), "origin", PAGE).await;
    assert_eq!(refused.err(), Some(401));
    let refused = Client::try_connect_with_header(&url("e2", Some(&expired)), "origin", PAGE).await;
    assert_eq!(refused.err(), Some(401));
    let refused =
        Client::try_connect_with_header(&url("e3", Some(&valid)), "origin", "https://evil.example")
            .await;
    assert_eq!(refused.err(), Some(403));
    for label in ["e1", "e2", "e3"] {
        assert!(!connect_ran(label), "{label}: $connect ran");
    }
    assert!(emulator.store().list().await.unwrap().is_empty());

    // Allowed: `$connect` runs, and every event carries the authorizer's context.
    let mut client = Client::try_connect_with_header(&url("e4", Some(&valid)), "origin", PAGE)
        .await
        .expect("allowed");
    assert!(connect_ran("e4"));
    client.send_json(json!({"action": "whoami"})).await;
    let reply = client.recv_json().await;
    assert_eq!(reply["identity"]["sub"], "u-2", "{reply}");
    assert_eq!(reply["principal"], "u-2", "{reply}");
    let stored = emulator.store().list().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].metadata["claims"]["sub"], "u-2");
    emulator.shutdown().await;
}
