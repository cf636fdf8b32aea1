//! The fuzz targets' bodies, shared by the cargo-fuzz crate (`fuzz/`, nightly) and the stable
//! replay test (`tests/fuzz_replay.rs`), which runs every seed and every crash found so far.
//! Each takes arbitrary bytes and must not panic; each checks what must hold whatever the
//! input (nothing stored that should not be, a refused token never connects).

use std::collections::HashMap;
use std::sync::OnceLock;

use aws_sdk_dynamodb::types::AttributeValue;
use lift_runtime::store::{ConnectionStore, MemoryStore};
use lift_runtime::testing::TestContext;
use lift_runtime::{App, FromMessage, Json, Service};
use serde_json::Value;

use crate::chat_app::chat;

/// A fuzz target: arbitrary bytes in, a panic when something that must hold does not.
pub type Target = fn(&[u8]);

/// The targets, by the name of their corpus directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("lambda_event", lambda_event),
    ("message_body", message_body),
    ("route_selection", route_selection),
    ("extractors", extractors),
    ("dynamodb_item", dynamodb_item),
    ("jwt_connect", jwt_connect),
    ("jwks_keys", jwks_keys),
];

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

async fn chat_service(store: &MemoryStore, jwt: bool) -> Service {
    let mut app = App::new(chat::router())
        .store(store.clone())
        .management_api(crate::sink::Sink::default().connect());
    if jwt {
        app = app.middleware(lift_runtime::auth::JwtAuth::hs256(b"fuzzing-secret"));
    }
    app.settings(lift_runtime::Settings::default())
        .service()
        .await
        .expect("the app's service")
}

/// Any JSON Lambda could deliver (API Gateway or SQS shaped, or neither) into the service:
/// an answer, never a panic.
pub fn lambda_event(data: &[u8]) {
    let Ok(event) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let store = MemoryStore::new();
    runtime().block_on(async {
        let service = chat_service(&store, false).await;
        let _ = service.handle(event).await;
    });
}

/// Any message body from a stored connection, routed as the emulator routes it.
pub fn message_body(data: &[u8]) {
    let body = String::from_utf8_lossy(data).into_owned();
    let store = MemoryStore::new();
    let route = lift_runtime::__fuzz::select_route("$request.body.action", &chat::router(), &body)
        .expect("the default expression");
    runtime().block_on(async {
        let service = chat_service(&store, false).await;
        let connect = lift_runtime::testing::Event::connect("fuzz=").query("name", "fuzz");
        let response = crate::handle_json(&service, connect.build()).await;
        assert_eq!(response.status_code, 200);
        let message = lift_runtime::testing::Event::message("fuzz=", route.as_str(), &body);
        let _ = crate::handle_json(&service, message.build()).await;
        // Only the caller is stored, whatever it sent.
        let stored = store.list().await.unwrap();
        assert_eq!(stored.len(), 1, "{stored:?}");
    });
}

/// Any route selection expression, and any body under it.
pub fn route_selection(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (expression, body) = text.split_once('\n').unwrap_or((&text, "{}"));
    let router = chat::router();
    let Ok(route) = lift_runtime::__fuzz::select_route(expression, &router, body) else {
        return;
    };
    // A selected route is a message route of the app, or `$default`.
    let message_routes = ["join", "leave", "sendMessage", "whoami"];
    assert!(
        route == lift_runtime::RouteKey::Default || message_routes.contains(&route.as_str()),
        "{route:?}"
    );
}

/// Any body into each extractor, as text and as base64.
pub fn extractors(data: &[u8]) {
    let body = String::from_utf8_lossy(data).into_owned();
    runtime().block_on(async {
        for base64 in [false, true] {
            let mut context = TestContext::message("x", &body);
            if base64 {
                context = context.base64();
            }
            let (ctx, _) = context.build().await;
            let _ = <Json<Value> as FromMessage>::from_message(&ctx);
            let _ = <Json<chat_app_types::Say> as FromMessage>::from_message(&ctx);
            let _ = <String as FromMessage>::from_message(&ctx);
            let _ = <Vec<u8> as FromMessage>::from_message(&ctx);
        }
    });
}

mod chat_app_types {
    /// A typed body, as handlers take them.
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    pub struct Say {
        pub text: String,
        pub room: Option<String>,
        pub count: u32,
    }
}

/// Any item the table could hold, decoded as the store decodes a connection.
pub fn dynamodb_item(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Some(object) = value.as_object() else {
        return;
    };
    let item: HashMap<String, AttributeValue> = object
        .iter()
        .map(|(name, value)| (name.clone(), attribute(value)))
        .collect();
    let _ = lift_runtime::__fuzz::decode_connection(&item);
}

/// A JSON value as the DynamoDB attribute it most looks like.
fn attribute(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) if items.iter().all(Value::is_string) => AttributeValue::Ss(
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        ),
        Value::Array(items) => AttributeValue::L(items.iter().map(attribute).collect()),
        Value::Object(map) => {
            AttributeValue::M(map.iter().map(|(k, v)| (k.clone(), attribute(v))).collect())
        }
    }
}

/// Any token, in each place `$connect` reads one, against an app requiring HS256 tokens: a
/// token not signed with the secret never connects, and nothing is stored for it.
pub fn jwt_connect(data: &[u8]) {
    let token = String::from_utf8_lossy(data).into_owned();
    let store = MemoryStore::new();
    runtime().block_on(async {
        let service = chat_service(&store, true).await;
        for place in 0..3 {
            let event = lift_runtime::testing::Event::connect("jwt=");
            let event = match place {
                0 => event.query("token", &token),
                1 => event.header("authorization", &format!("Bearer {token}")),
                _ => event.header("sec-websocket-protocol", &format!("bearer, {token}")),
            };
            let response = crate::handle_json(&service, event.build()).await;
            assert_ne!(response.status_code, 200, "an unsigned token connected");
            assert!(store.get("jwt=").await.unwrap().is_none());
        }
    });
}

/// Any key set and any token (the input split at its first newline: the set, then the token),
/// checked as `JwtAuth::jwks` checks tokens against a fetched set: nothing panics, and no token
/// verifies (none made here is signed by a key's owner: a key set alone never lets one in).
pub fn jwks_keys(data: &[u8]) {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (document, token) = data.split_at(split);
    let token = String::from_utf8_lossy(token.get(1..).unwrap_or_default());
    let verified = lift_runtime::__fuzz::jwks_verify(document, token.trim());
    assert!(
        verified.is_err(),
        "a token verified against a fuzzed key set: {verified:?}"
    );
}
