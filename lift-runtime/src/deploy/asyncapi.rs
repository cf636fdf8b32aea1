//! [`asyncapi`]: the AsyncAPI document of an app's messages (see the [module docs](super)).

use serde_json::{json, Map, Value};

use super::api_routes;
use crate::route_key::RouteKind;
use crate::router::Router;

/// An AsyncAPI 3.1 document of the app's messages, from its router. See the
/// [module docs](super).
///
/// `route_selection` is the route selection expression (`$request.body.action`, the
/// emulator's default; nested fields such as `$request.body.meta.kind` are described as nested
/// objects).
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
/// let doc = lift_runtime::deploy::asyncapi(&app::router(), "Pinger", "$request.body.action");
/// assert_eq!(doc["operations"]["ping"]["action"], "receive");
/// assert!(doc["operations"]["ping"]["reply"].is_object());
/// ```
pub fn asyncapi(router: &Router, title: &str, route_selection: &str) -> Value {
    let path: Vec<&str> = route_selection
        .strip_prefix("$request.body.")
        .unwrap_or("action")
        .split('.')
        .collect();
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
            let mut selector =
                path.iter()
                    .rev()
                    .fold(json!({ "const": route.key }), |inner, field| {
                        json!({
                            "type": "object",
                            "required": [field],
                            "properties": { *field: inner },
                        })
                    });
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
