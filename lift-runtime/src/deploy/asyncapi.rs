//! [`asyncapi`]: the AsyncAPI document of an app's messages (see the [module docs](super)).

use serde_json::{json, Map, Value};

use super::{api_routes, push_schema, selection_path};
use crate::app::App;
use crate::route_key::RouteKind;

/// An AsyncAPI 3.1 document of the app's messages, from its router and settings. See the
/// [module docs](super).
///
/// Messages are selected by the app's route selection expression (`$request.body.action` by
/// default; nested fields such as `$request.body.meta.kind` are described as nested objects).
/// The frames declared with [`ws_push`](crate::ws_push) are `send` operations; the keep-alive
/// route ([`Settings::keepalive_route`](crate::Settings::keepalive_route)), when set, a
/// `receive` operation whose reply is `{"type":"pong"}`.
///
/// ```
/// #[lift_runtime::ws_app]
/// mod app {
///     use lift_runtime::prelude::*;
///
///     #[ws_route("ping", reply)]
///     async fn ping() -> WsResult<Reply> {
///         Ok(Reply::text("pong"))
///     }
/// }
///
/// let doc = lift_runtime::deploy::asyncapi(&lift_runtime::App::new(app::router()), "Pinger");
/// assert_eq!(doc["operations"]["ping"]["action"], "receive");
/// assert!(doc["operations"]["ping"]["reply"].is_object());
/// ```
pub fn asyncapi(app: &App, title: &str) -> Value {
    let router = app.router();
    let settings = app.described_settings();
    let path = selection_path(&settings.route_selection);
    let mut messages = Map::new();
    let mut operations = Map::new();
    let message_ref = |name: &str| json!({ "$ref": format!("#/components/messages/{name}") });
    let channel_message_ref =
        |name: &str| json!({ "$ref": format!("#/channels/socket/messages/{name}") });
    let mut channel_messages = Map::new();
    for route in api_routes(router) {
        if matches!(route.kind, RouteKind::Connect | RouteKind::Disconnect) {
            continue;
        }
        let mut name = operation_name(route.key);
        let base = name.clone();
        let mut n = 2;
        while operations.contains_key(&name)
            || messages.contains_key(&name)
            || messages.contains_key(&format!("{name}Reply"))
            || name == "error"
            || name == "sendError"
        {
            name = format!("{base}{n}");
            n += 1;
        }
        let message_schema = route.info.and_then(|info| (info.message_schema)());
        let payload = if route.kind == RouteKind::Default {
            message_schema.unwrap_or_else(|| {
                json!({
                    "description": "Any message that names no route (or is not JSON)",
                })
            })
        } else {
            let mut selector = selector(&path, route.key);
            selector["properties"]["requestId"] = request_id_schema();
            match message_schema {
                Some(schema) => json!({ "allOf": [selector, schema] }),
                None => selector,
            }
        };
        messages.insert(
            name.clone(),
            json!({
                "name": route.key,
                "title": format!("`{}` from a client", route.key),
                "contentType": "application/json",
                "payload": payload,
            }),
        );
        channel_messages.insert(name.clone(), message_ref(&name));
        let mut operation = json!({
            "action": "receive",
            "channel": { "$ref": "#/channels/socket" },
            "messages": [channel_message_ref(&name)],
        });
        if route.reply() {
            let reply = format!("{name}Reply");
            let mut message = json!({
                "name": format!("{} reply", route.key),
                "title": format!("The reply to `{}` (the route's response)", route.key),
                "description": REPLY_REQUEST_ID,
            });
            if let Some(schema) = route.info.and_then(|info| (info.reply_schema)()) {
                message["contentType"] = json!("application/json");
                message["payload"] = schema;
            }
            messages.insert(reply.clone(), message);
            channel_messages.insert(reply.clone(), message_ref(&reply));
            operation["reply"] = json!({
                "channel": { "$ref": "#/channels/socket" },
                "messages": [channel_message_ref(&reply)],
            });
        }
        operations.insert(name, operation);
    }
    let free = |base: &str, messages: &Map<String, Value>, operations: &Map<String, Value>| {
        let mut name = base.to_owned();
        let mut n = 2;
        while operations.contains_key(&name) || messages.contains_key(&name) {
            name = format!("{base}{n}");
            n += 1;
        }
        name
    };
    for push in router.pushes() {
        let name = free(push.name, &messages, &operations);
        let payload = push_schema(push);
        messages.insert(
            name.clone(),
            json!({
                "name": push.tag,
                "title": format!("A `{}` frame the server pushes (`{}`)", push.tag, push.name),
                "contentType": "application/json",
                "payload": payload,
            }),
        );
        channel_messages.insert(name.clone(), message_ref(&name));
        let operation = free(&format!("send{}", push.name), &messages, &operations);
        operations.insert(
            operation,
            json!({
                "action": "send",
                "channel": { "$ref": "#/channels/socket" },
                "messages": [channel_message_ref(&name)],
            }),
        );
    }
    if let Some(key) = settings.keepalive_route.as_deref() {
        let name = free("keepalive", &messages, &operations);
        let pong = free("pong", &messages, &operations);
        messages.insert(
            name.clone(),
            json!({
                "name": key,
                "title": format!("`{key}`: the keep-alive message"),
                "description": "Answered by API Gateway itself (a MOCK integration): no function \
                    runs. A client sends it when idle, so API Gateway does not close the \
                    connection after 10 idle minutes.",
                "contentType": "application/json",
                "payload": selector(&path, key),
            }),
        );
        messages.insert(
            pong.clone(),
            json!({
                "name": "pong",
                "title": format!("The answer to `{key}`"),
                "contentType": "application/json",
                "payload": {
                    "type": "object",
                    "required": ["type"],
                    "properties": { "type": { "const": "pong" } },
                },
            }),
        );
        channel_messages.insert(name.clone(), message_ref(&name));
        channel_messages.insert(pong.clone(), message_ref(&pong));
        operations.insert(
            name.clone(),
            json!({
                "action": "receive",
                "channel": { "$ref": "#/channels/socket" },
                "messages": [channel_message_ref(&name)],
                "reply": {
                    "channel": { "$ref": "#/channels/socket" },
                    "messages": [channel_message_ref(&pong)],
                },
            }),
        );
    }
    messages.insert(
        "error".into(),
        json!({
            "name": "error",
            "title": "An error frame: a bad body, an unknown route, a failed or panicking handler",
            "contentType": "application/json",
            "payload": {
                "type": "object",
                "required": ["type", "code", "message"],
                "properties": {
                    "type": { "const": "error" },
                    "code": { "type": "string" },
                    "message": { "type": "string" },
                    "requestId": request_id_schema(),
                },
            },
        }),
    );
    channel_messages.insert("error".into(), message_ref("error"));
    operations.insert(
        "sendError".into(),
        json!({
            "action": "send",
            "channel": { "$ref": "#/channels/socket" },
            "messages": [channel_message_ref("error")],
        }),
    );
    json!({
        "asyncapi": "3.1.0",
        "info": {
            "title": title,
            "version": "1.0.0",
            "description": "Generated by Lift from the router (regenerate it, do not edit it).",
        },
        "servers": {
            "aws": {
                "host": "{apiId}.execute-api.{region}.amazonaws.com",
                "pathname": "/{stage}",
                "protocol": "wss",
                "variables": {
                    "apiId": { "description": "The WebSocket API's id" },
                    "region": { "default": "us-east-1" },
                    "stage": { "default": "prod" },
                },
            },
            "local": {
                "host": "127.0.0.1:3001",
                "protocol": "ws",
                "description": "The local emulator (`cargo run`)",
            },
        },
        "channels": { "socket": { "address": "/", "messages": channel_messages } },
        "operations": operations,
        "components": { "messages": messages },
    })
}

/// The schema of a message whose route selection field (at `path`) is `key`.
fn selector(path: &[&str], key: &str) -> Value {
    path.iter()
        .rev()
        .fold(json!({ "const": key }), |inner, field| {
            json!({
                "type": "object",
                "required": [field],
                "properties": { *field: inner },
            })
        })
}

/// What a reply says of request ids.
const REPLY_REQUEST_ID: &str = "A reply that is a JSON object carries the `requestId` of the \
    message it answers, when that message had one.";

/// The `requestId` a client may put in any message: echoed in the reply, the returned value and
/// any error frame about that message.
fn request_id_schema() -> Value {
    json!({
        "type": ["string", "number"],
        "description": "Echoed as `requestId` in the reply to this message, in the value its \
            route returns and in any error frame about it (a JSON object's only), so a client \
            can match answers to the requests it has in flight.",
    })
}

/// An AsyncAPI operation name for a route key: `sendMessage` stays, `$default` → `default`
/// (numbered by the caller when two keys would collide).
fn operation_name(key: &str) -> String {
    key.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect::<String>()
        .trim_start_matches('_')
        .to_owned()
}
