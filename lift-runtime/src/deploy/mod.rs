//! Deployment documents, from code: the deployment template and the AsyncAPI document, generated from
//! the router — never a hand-kept copy that drifts from the routes.
//!
//! - [`Template`]: an AWS SAM template (CloudFormation JSON) with the WebSocket API and its route
//!   selection expression, one route per route key (two-way routes with their route response),
//!   the Lambda integration and invoke permission, a stage, the function (`provided.al2023`,
//!   `bootstrap` as `cargo lambda build` makes it), the DynamoDB table exactly as
//!   [`DynamoDbStore::create_table`](crate::store::DynamoDbStore::create_table) makes it (keys,
//!   the `gsi1` user index, on-demand billing, TTL on `expires_at`), and the IAM policy:
//!   the table and its index, and `execute-api:ManageConnections` on `POST`, `GET` *and*
//!   `DELETE` of `@connections` (sends, `info` and `disconnect`); and the fan-out queue (see
//!   [`fanout`](crate::fanout)): an SQS queue with its dead-letter queue (after 3 receives),
//!   the function's SQS event with `ReportBatchItemFailures` and a maximum concurrency
//!   ([`Template::fanout_consumers`]), the right to send to the queue, and
//!   `LIFT_FANOUT_QUEUE_URL`/`LIFT_FANOUT_CONSUMERS` (leave it out with
//!   `fanout_consumers: None`).
//!   The template also operates what it deploys (each part a field of [`Template`]): log
//!   groups kept 30 days, the stage's access logs and default throttling, CloudWatch alarms
//!   notifying an SNS topic, X-Ray as an option (see the README's "Operating it").
//! - [`asyncapi`]: an AsyncAPI 3.1 document of the messages: one message per route key (the
//!   `action` field, or whichever the route selection expression names), the replies of
//!   two-way routes, and the error frame. With the `schemas` feature, a handler taking
//!   `Json<T>` or returning `Json<U>` where the type derives `schemars::JsonSchema` gets that
//!   type's JSON Schema (draft-07, inlined) as the payload.
//!
//! [`print_if_asked`] prints them when the program was started with `template` or `asyncapi`
//! as its first argument; the chat example's `main` calls it before running:
//!
//! ```sh
//! cargo run --example chat -- template > template.json
//! cargo lambda build --release --arm64 --example chat
//! sam deploy --template-file template.json --guided
//! ```
//!
//! ```
//! #[lift_runtime::ws_app]
//! mod app {
//!     use lift_runtime::prelude::*;
//!
//!     #[ws_route("ping", reply)]
//!     async fn ping() -> WsResult<Reply> {
//!         Ok(Reply::text("pong"))
//!     }
//! }
//!
//! let mut template = lift_runtime::deploy::Template::new(&app::router());
//! template.name = "pinger".into();
//! template.stage = "prod".into();
//! let template = template.to_json();
//! let route = &template["Resources"]["RoutePing"]["Properties"];
//! assert_eq!(route["RouteKey"], "ping");
//! assert_eq!(route["RouteResponseSelectionExpression"], "$default");
//! ```

mod asyncapi;
mod cli;
mod operate;
mod sam;
mod ts_types;
mod typescript;

pub use asyncapi::asyncapi;
pub use cli::print_if_asked;
pub use sam::{Template, Throttling};
pub use typescript::typescript;

use crate::route_key::RouteKind;
use crate::router::{PushInfo, RouteInfo, Router};

/// A route as API Gateway needs it.
#[derive(Clone, Debug)]
pub(crate) struct ApiRoute {
    pub(crate) key: &'static str,
    pub(crate) kind: RouteKind,
    /// The app's handler, when it has one.
    pub(crate) info: Option<&'static RouteInfo>,
}

impl ApiRoute {
    /// A two-way route (only a handler can make one).
    fn reply(&self) -> bool {
        self.info.is_some_and(|info| info.reply)
    }
}

/// The routes API Gateway must have: `$connect`, `$disconnect` and `$default` always (the
/// runtime saves and removes connections, and answers a message naming no route with an
/// `unknown_route` error frame, even when the app has no handler for them), then every message
/// route of the app, in the router's order.
fn api_routes(router: &Router) -> Vec<ApiRoute> {
    let special = [
        RouteKind::Connect,
        RouteKind::Disconnect,
        RouteKind::Default,
    ]
    .map(|kind| {
        let key = kind.fixed_key().unwrap_or_default();
        ApiRoute {
            key,
            kind,
            info: router.route(key),
        }
    });
    let messages = router
        .routes()
        .iter()
        .chain(router.builtins())
        .filter(|route| route.kind == crate::route_key::RouteKind::Message)
        .map(|route: &'static RouteInfo| ApiRoute {
            key: route.key,
            kind: RouteKind::Message,
            info: Some(route),
        });
    special.into_iter().chain(messages).collect()
}

/// The fields of a message the route selection expression names: `$request.body.action` →
/// `["action"]`, `$request.body.meta.kind` → `["meta", "kind"]`.
fn selection_path(route_selection: &str) -> Vec<&str> {
    route_selection
        .strip_prefix("$request.body.")
        .unwrap_or("action")
        .split('.')
        .collect()
}

/// The JSON Schema of a pushed frame: its type's (when it has one) with the `"type"` field
/// `#[ws_push]` adds, which `schemars` leaves out of a struct's schema (it describes serde's
/// `tag` on enums only); without one, an object with that field and any others.
fn push_schema(push: &PushInfo) -> serde_json::Value {
    let tag = serde_json::json!({ "type": "string", "const": push.tag });
    let Some(mut schema) = (push.schema)() else {
        return serde_json::json!({
            "type": "object",
            "required": ["type"],
            "properties": { "type": tag },
            "additionalProperties": true,
        });
    };
    if let Some(map) = schema.as_object_mut() {
        let properties = map
            .entry("properties")
            .or_insert_with(|| serde_json::json!({}));
        if let Some(properties) = properties.as_object_mut() {
            // The tag first, as serde writes it.
            let mut with_tag = serde_json::Map::new();
            with_tag.insert("type".into(), tag);
            with_tag.extend(std::mem::take(properties));
            *properties = with_tag;
        }
        let required = map
            .entry("required")
            .or_insert_with(|| serde_json::json!([]));
        if let Some(required) = required.as_array_mut() {
            if !required.iter().any(|r| r == "type") {
                required.insert(0, "type".into());
            }
        }
        map.insert("title".into(), push.name.into());
    }
    schema
}
