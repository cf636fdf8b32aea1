//! API Gateway WebSocket events built from the real shapes in `fixtures/` (shipped by the
//! `aws_lambda_events` crate), replayed now.

use serde_json::Value;

/// A fixture, replayed now: its `connectedAt` and `requestTimeEpoch` (recorded years ago) are
/// set to the current time, as API Gateway would send them today. (A record whose connection
/// opened years ago is long expired, and expired records are invisible.)
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"));
    let mut event: Value = serde_json::from_str(&text).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    event["requestContext"]["connectedAt"] = now.into();
    event["requestContext"]["requestTimeEpoch"] = now.into();
    event
}

/// The `$connect` fixture (`?name=me`, connection `TWegAcC4EowCHnA=`).
pub fn connect_event() -> Value {
    fixture("example-apigw-websocket-request.json")
}

/// The `$connect` fixture for another connection id.
pub fn connect_event_for(connection_id: &str) -> Value {
    let mut event = connect_event();
    event["requestContext"]["connectionId"] = connection_id.into();
    event
}

/// The `$disconnect` fixture for a connection id.
pub fn disconnect_event(connection_id: &str) -> Value {
    let mut event = fixture("example-apigw-websocket-request-disconnect-route.json");
    event["requestContext"]["connectionId"] = connection_id.into();
    event
}

/// A MESSAGE event from `connection_id`, shaped as API Gateway sends it: the `$connect`
/// fixture's request context with the route key, event type and body of a message.
pub fn message_event(connection_id: &str, route_key: &str, body: &str) -> Value {
    let mut event = connect_event();
    let ctx = event["requestContext"].as_object_mut().unwrap();
    ctx.insert("routeKey".into(), route_key.into());
    ctx.insert("eventType".into(), "MESSAGE".into());
    ctx.insert("messageId".into(), "ex0XeeJhliAfnAw=".into());
    ctx.insert("connectionId".into(), connection_id.into());
    let event = event.as_object_mut().unwrap();
    for key in [
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "multiValueQueryStringParameters",
    ] {
        event.remove(key);
    }
    event.insert("body".into(), body.into());
    Value::Object(event.clone())
}
