//! Infrastructure from code: the deployment template and the AsyncAPI document, generated from
//! the router — never a hand-kept copy that drifts from the routes.
//!
//! - [`Template`]: an AWS SAM template (CloudFormation JSON) with the WebSocket API and its route
//!   selection expression, one route per route key (two-way routes with their route response),
//!   the Lambda integration and invoke permission, a stage, the function (`provided.al2023`,
//!   `bootstrap` as `cargo lambda build` makes it), the DynamoDB table exactly as
//!   [`DynamoDbStore::create_table`](crate::store::DynamoDbStore::create_table) makes it (keys,
//!   the `gsi1` user index, on-demand billing, TTL on `expires_at`), and the IAM policy:
//!   the table and its index, and `execute-api:ManageConnections` on `POST`, `GET` *and*
//!   `DELETE` of `@connections` (sends, `info` and `disconnect`).
//! - [`asyncapi`]: an AsyncAPI 3.1 document of the messages: one message per route key (the
//!   `action` field, or whichever the route selection expression names), the replies of
//!   two-way routes, and the error frame. With the `schemas` feature, a handler taking
//!   `Json<T>` or returning `Json<U>` where the type derives `schemars::JsonSchema` gets that
//!   type's JSON Schema (draft-07, inlined) as the payload.
//!
//! [`App::run`](crate::App::run) prints them when the program is started with `template` or
//! `asyncapi` as its first argument:
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
//! let template = lift_runtime::infra::Template::new(&app::router())
//!     .name("pinger")
//!     .stage("prod")
//!     .to_json();
//! let route = &template["Resources"]["RoutePing"]["Properties"];
//! assert_eq!(route["RouteKey"], "ping");
//! assert_eq!(route["RouteResponseSelectionExpression"], "$default");
//! ```

use serde_json::{json, Map, Value};

use crate::router::{RouteInfo, Router};

/// A route as API Gateway needs it.
#[derive(Clone, Debug)]
struct ApiRoute {
    key: &'static str,
    /// The app's handler, when it has one.
    info: Option<&'static RouteInfo>,
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
    let special = ["$connect", "$disconnect", "$default"].map(|key| ApiRoute {
        key,
        info: router.route(key),
    });
    let messages = router
        .routes()
        .iter()
        .filter(|route| router.is_message_route(route.key))
        .map(|route: &'static RouteInfo| ApiRoute {
            key: route.key,
            info: Some(route),
        });
    special.into_iter().chain(messages).collect()
}

/// The single-table layout both `create_table` and the template create.
pub(crate) mod table {
    /// Partition key.
    pub const PK: &str = "pk";
    /// Sort key.
    pub const SK: &str = "sk";
    /// The user index and its keys.
    pub const USER_INDEX: &str = "gsi1";
    /// Partition key of the user index.
    pub const INDEX_PK: &str = "gsi1pk";
    /// Sort key of the user index.
    pub const INDEX_SK: &str = "gsi1sk";
    /// The TTL attribute (epoch seconds).
    pub const TTL: &str = "expires_at";
}

/// An AWS SAM template for an app, from its router. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Template {
    routes: Vec<ApiRoute>,
    name: String,
    stage: String,
    route_selection: String,
    code_uri: String,
    architecture: String,
    memory_mb: u32,
    timeout_secs: u32,
    environment: Vec<(String, String)>,
}

impl Template {
    /// A template for `router` with the defaults: API name `lift-app`, stage `prod`, route
    /// selection `$request.body.action` (the emulator's default), code from
    /// `target/lambda/bootstrap` (`cargo lambda build`'s output for a binary named `bootstrap`;
    /// see [`code_uri`](Self::code_uri)), arm64, 1024 MB, 29 s (API Gateway waits at most 29 s
    /// for an integration).
    pub fn new(router: &Router) -> Self {
        Template {
            routes: api_routes(router),
            name: "lift-app".to_owned(),
            stage: "prod".to_owned(),
            route_selection: "$request.body.action".to_owned(),
            code_uri: "target/lambda/bootstrap".to_owned(),
            architecture: "arm64".to_owned(),
            memory_mb: 1024,
            timeout_secs: 29,
            environment: Vec::new(),
        }
    }

    /// The API's name (also the prefix of the function's description).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The stage name (the last part of the `wss://` URL and of the Management API endpoint).
    pub fn stage(mut self, stage: impl Into<String>) -> Self {
        self.stage = stage.into();
        self
    }

    /// The route selection expression (`$request.body.<field>`); keep it the same as the
    /// emulator's (`LocalConfig::route_selection`).
    pub fn route_selection(mut self, expression: impl Into<String>) -> Self {
        self.route_selection = expression.into();
        self
    }

    /// The directory holding the function's `bootstrap` binary, e.g.
    /// `target/lambda/chat` after `cargo lambda build --release --arm64 --example chat`.
    pub fn code_uri(mut self, path: impl Into<String>) -> Self {
        self.code_uri = path.into();
        self
    }

    /// `x86_64` instead of the default `arm64` (build with `cargo lambda build` without `--arm64`).
    pub fn x86_64(mut self) -> Self {
        self.architecture = "x86_64".to_owned();
        self
    }

    /// The function's memory in MB (also its share of CPU: one vCPU per 1,769 MB).
    pub fn memory_mb(mut self, mb: u32) -> Self {
        self.memory_mb = mb;
        self
    }

    /// The function's timeout in seconds (broadcasts stop retrying before it).
    pub fn timeout_secs(mut self, secs: u32) -> Self {
        self.timeout_secs = secs;
        self
    }

    /// An environment variable of the function (besides `LIFT_TABLE_NAME`, always set to the
    /// table).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.environment.push((key.into(), value.into()));
        self
    }

    /// The logical id of a route's resource: `Route` and the key's letters and digits
    /// (`$connect` → `RouteConnect`, `send-message` → `RouteSendMessage`), numbered when two keys
    /// would collide.
    fn route_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for route in &self.routes {
            let mut id = String::from("Route");
            let mut upper = true;
            for c in route.key.chars() {
                if c.is_ascii_alphanumeric() {
                    if upper {
                        id.push(c.to_ascii_uppercase());
                    } else {
                        id.push(c);
                    }
                    upper = false;
                } else {
                    upper = true;
                }
            }
            let base = id.clone();
            let mut n = 2;
            while ids.contains(&id) {
                id = format!("{base}{n}");
                n += 1;
            }
            ids.push(id);
        }
        ids
    }

    /// The template, as CloudFormation JSON (SAM transform).
    pub fn to_json(&self) -> Value {
        let api = json!({ "Ref": "WebSocketApi" });
        let mut resources = Map::new();
        resources.insert(
            "WebSocketApi".into(),
            json!({
                "Type": "AWS::ApiGatewayV2::Api",
                "Properties": {
                    "Name": self.name,
                    "ProtocolType": "WEBSOCKET",
                    "RouteSelectionExpression": self.route_selection,
                },
            }),
        );
        resources.insert(
            "Integration".into(),
            json!({
                "Type": "AWS::ApiGatewayV2::Integration",
                "Properties": {
                    "ApiId": api,
                    "IntegrationType": "AWS_PROXY",
                    "IntegrationUri": { "Fn::Sub":
                        "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Function.Arn}/invocations" },
                },
            }),
        );
        let route_ids = self.route_ids();
        // The deployment comes after every route and route response.
        let mut deployed = route_ids.clone();
        for (route, id) in self.routes.iter().zip(&route_ids) {
            let mut properties = json!({
                "ApiId": api,
                "RouteKey": route.key,
                "Target": { "Fn::Sub": "integrations/${Integration}" },
            });
            if route.reply() {
                properties["RouteResponseSelectionExpression"] = json!("$default");
                deployed.push(format!("{id}Response"));
                resources.insert(
                    format!("{id}Response"),
                    json!({
                        "Type": "AWS::ApiGatewayV2::RouteResponse",
                        "Properties": {
                            "ApiId": api,
                            "RouteId": { "Ref": id },
                            "RouteResponseKey": "$default",
                        },
                    }),
                );
            }
            resources.insert(
                id.clone(),
                json!({ "Type": "AWS::ApiGatewayV2::Route", "Properties": properties }),
            );
        }
        resources.insert(
            "Deployment".into(),
            json!({
                "Type": "AWS::ApiGatewayV2::Deployment",
                "DependsOn": deployed,
                "Properties": { "ApiId": api },
            }),
        );
        resources.insert(
            "Stage".into(),
            json!({
                "Type": "AWS::ApiGatewayV2::Stage",
                "Properties": {
                    "ApiId": api,
                    "DeploymentId": { "Ref": "Deployment" },
                    "StageName": self.stage,
                },
            }),
        );
        let mut variables = Map::new();
        variables.insert("LIFT_TABLE_NAME".into(), json!({ "Ref": "Table" }));
        for (key, value) in &self.environment {
            variables.insert(key.clone(), json!(value));
        }
        let connections = |method: &str| {
            json!({ "Fn::Sub": format!(
                "arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{WebSocketApi}}/{}/{method}/@connections/*",
                self.stage
            ) })
        };
        resources.insert(
            "Function".into(),
            json!({
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Description": format!("{}: WebSocket routes (generated by Lift)", self.name),
                    "CodeUri": self.code_uri,
                    "Handler": "bootstrap",
                    "Runtime": "provided.al2023",
                    "Architectures": [self.architecture],
                    "MemorySize": self.memory_mb,
                    "Timeout": self.timeout_secs,
                    "Environment": { "Variables": variables },
                    "Policies": [
                        { "DynamoDBCrudPolicy": { "TableName": { "Ref": "Table" } } },
                        { "Statement": [{
                            "Effect": "Allow",
                            "Action": "execute-api:ManageConnections",
                            "Resource": [
                                connections("POST"),
                                connections("GET"),
                                connections("DELETE"),
                            ],
                        }] },
                    ],
                },
            }),
        );
        resources.insert(
            "InvokePermission".into(),
            json!({
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "Action": "lambda:InvokeFunction",
                    "FunctionName": { "Ref": "Function" },
                    "Principal": "apigateway.amazonaws.com",
                    "SourceArn": { "Fn::Sub":
                        "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}/*" },
                },
            }),
        );
        resources.insert("Table".into(), table_resource());
        json!({
            "AWSTemplateFormatVersion": "2010-09-09",
            "Transform": "AWS::Serverless-2016-10-31",
            "Description": format!(
                "{}: API Gateway WebSocket API on AWS Lambda, generated by Lift from the router \
                 (regenerate it, do not edit it)",
                self.name
            ),
            "Resources": resources,
            "Outputs": {
                "WebSocketUrl": {
                    "Description": "Where clients connect",
                    "Value": { "Fn::Sub": format!(
                        "wss://${{WebSocketApi}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{}",
                        self.stage
                    ) },
                },
                "ManagementEndpoint": {
                    "Description": "The Management API the function posts to",
                    "Value": { "Fn::Sub": format!(
                        "https://${{WebSocketApi}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{}",
                        self.stage
                    ) },
                },
                "TableName": {
                    "Description": "The connection store (LIFT_TABLE_NAME)",
                    "Value": { "Ref": "Table" },
                },
            },
        })
    }
}

/// A mistake on the command line. Its `Debug` is its message, so `main` returning it prints
/// `Error: unknown option ...` rather than a quoted string.
struct UsageError(String);

impl std::fmt::Debug for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Applies `your-app template` command-line options to `template` (see
/// [`App::run`](crate::App::run)).
pub(crate) fn template_options(
    template: Template,
    args: &[String],
) -> Result<Template, crate::Error> {
    parse_template_options(template, args).map_err(|message| UsageError(message).into())
}

fn parse_template_options(mut template: Template, args: &[String]) -> Result<Template, String> {
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("`template {name}` needs a value"))
        };
        let number = |name: &str, text: String| {
            text.parse::<u32>()
                .map_err(|_| format!("`template {name}` takes a number, not `{text}`"))
        };
        template = match arg.as_str() {
            "--stage" => template.stage(value("--stage")?),
            "--x86_64" => template.x86_64(),
            "--memory" => template.memory_mb(number("--memory", value("--memory")?)?),
            "--timeout" => template.timeout_secs(number("--timeout", value("--timeout")?)?),
            "--code-uri" => template.code_uri(value("--code-uri")?),
            "--env" => {
                let pair = value("--env")?;
                let (key, val) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("`template --env` takes KEY=VALUE, not `{pair}`"))?;
                template.env(key, val)
            }
            other => {
                return Err(format!(
                    "unknown option `{other}` for `template`: use --stage NAME, --x86_64, \
                     --memory MB, --timeout SECONDS, --env KEY=VALUE, --code-uri DIR"
                ))
            }
        };
    }
    Ok(template)
}

/// The DynamoDB table as `DynamoDbStore::create_table` makes it.
fn table_resource() -> Value {
    use table::*;
    let attribute = |name: &str| json!({ "AttributeName": name, "AttributeType": "S" });
    let key = |name: &str, kind: &str| json!({ "AttributeName": name, "KeyType": kind });
    json!({
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                attribute(PK), attribute(SK), attribute(INDEX_PK), attribute(INDEX_SK),
            ],
            "KeySchema": [key(PK, "HASH"), key(SK, "RANGE")],
            "GlobalSecondaryIndexes": [{
                "IndexName": USER_INDEX,
                "KeySchema": [key(INDEX_PK, "HASH"), key(INDEX_SK, "RANGE")],
                "Projection": { "ProjectionType": "ALL" },
            }],
            "TimeToLiveSpecification": { "AttributeName": TTL, "Enabled": true },
        },
    })
}

/// An AsyncAPI 3.1 document of the app's messages, from its router. See the
/// [module docs](self).
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
/// let doc = lift_runtime::infra::asyncapi(&app::router(), "Pinger", "$request.body.action");
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
        if route.key == "$connect" || route.key == "$disconnect" {
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
        let payload = if route.key == "$default" {
            message_schema.unwrap_or_else(|| {
                json!({
                    "description": "Any message that names no route (or is not JSON)",
                })
            })
        } else {
            let selector = path
                .iter()
                .rev()
                .fold(json!({ "const": route.key }), |inner, field| {
                    json!({
                        "type": "object",
                        "required": [field],
                        "properties": { *field: inner },
                    })
                });
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

/// An AsyncAPI operation name for a route key: `sendMessage` stays, `$default` → `default`
/// (numbered by the caller when two keys would collide).
fn operation_name(key: &str) -> String {
    key.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect::<String>()
        .trim_start_matches('_')
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::{template_options, Template};
    use crate::router::Router;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn command_line_options_set_the_template() {
        let router = Router::from_entries(&[], &[]);
        let base = Template::new(&router);
        let options = args(&[
            "--stage",
            "dev",
            "--x86_64",
            "--memory",
            "2048",
            "--timeout",
            "20",
            "--env",
            "LIFT_JWT_SECRET=s=1",
            "--code-uri",
            "target/lambda/x",
        ]);
        let json = template_options(base.clone(), &options).unwrap().to_json();
        let function = &json["Resources"]["Function"]["Properties"];
        assert_eq!(function["Architectures"][0], "x86_64");
        assert_eq!(function["MemorySize"], 2048);
        assert_eq!(function["Timeout"], 20);
        assert_eq!(function["CodeUri"], "target/lambda/x");
        assert_eq!(
            function["Environment"]["Variables"]["LIFT_JWT_SECRET"],
            "s=1"
        );
        assert_eq!(json["Resources"]["Stage"]["Properties"]["StageName"], "dev");

        for (bad, says) in [
            (&["--stage"][..], "needs a value"),
            (&["--memory", "lots"][..], "takes a number"),
            (&["--env", "NOEQUALS"][..], "KEY=VALUE"),
            (&["--arm"][..], "unknown option `--arm`"),
        ] {
            let err = template_options(base.clone(), &args(bad)).unwrap_err();
            assert!(err.to_string().contains(says), "{bad:?}: {err}");
            // What `main` prints (`Error: {:?}`) is the message, not a quoted string.
            assert_eq!(format!("{err:?}"), err.to_string());
        }
    }
}
