//! [`Template`]: the AWS SAM template of an app (see the [module docs](super)).

use serde_json::{json, Map, Value};

use super::{api_routes, ApiRoute};
use crate::route_key::RouteKey;
use crate::router::Router;
use crate::store::dynamodb::table;

/// An AWS SAM template for an app, from its router: set its fields, then
/// [`to_json`](Self::to_json). See the [module docs](crate::deploy).
#[derive(Clone, Debug)]
pub struct Template {
    routes: Vec<ApiRoute>,
    /// The API's name (also the prefix of the function's description). Default `lift-app`.
    pub name: String,
    /// The stage name (the last part of the `wss://` URL and of the Management API endpoint).
    /// Default `prod`.
    pub stage: String,
    /// The route selection expression (`$request.body.<field>`); keep it the app's
    /// ([`Settings::route_selection`](crate::Settings::route_selection)). Default
    /// `$request.body.action`.
    pub route_selection: String,
    /// The directory holding the function's `bootstrap` binary, e.g. `target/lambda/chat`
    /// after `cargo lambda build --release --arm64 --example chat`. Default
    /// `target/lambda/bootstrap` (`cargo lambda build`'s output for a binary named
    /// `bootstrap`).
    pub code_uri: String,
    /// `arm64` (the default; build with `cargo lambda build --arm64`) or `x86_64`.
    pub architecture: String,
    /// The function's memory in MB (also its share of CPU: one vCPU per 1,769 MB). Default
    /// 1024.
    pub memory_mb: u32,
    /// The function's timeout in seconds (broadcasts stop retrying before it). Default 29 (API
    /// Gateway waits at most 29 s for an integration).
    pub timeout_secs: u32,
    /// Environment variables of the function (besides `LIFT_TABLE_NAME`, always set to the
    /// table, and the fan-out queue's).
    pub environment: Vec<(String, String)>,
    /// The fan-out queue's consumers at most: the maximum concurrency of its event source
    /// mapping (2 to 1,000; default 10), also given to the function as
    /// `LIFT_FANOUT_CONSUMERS` so each consumer paces itself to its share of the rate budget
    /// (see [`fanout`](crate::fanout)). `None`: no fan-out queue, broadcasts to big rooms are
    /// sent by the invocation alone.
    pub fanout_consumers: Option<u32>,
    /// A keep-alive route API Gateway answers itself (`{"type":"pong"}`, a MOCK integration: no
    /// invocation); keep it the app's
    /// ([`Settings::keepalive_route`](crate::Settings::keepalive_route)). Default none.
    pub keepalive_route: Option<String>,
    /// Room history ([`Settings::history`](crate::Settings::history)): the built-in replay
    /// route is deployed, and the function gets `LIFT_HISTORY_SECS`. `your-app template` sets
    /// it from the app's settings. Default none.
    pub history: Option<std::time::Duration>,
    /// The function as `$connect`'s Lambda REQUEST authorizer
    /// ([`Settings::authorizer`](crate::Settings::authorizer)): an
    /// `AWS::ApiGatewayV2::Authorizer` wired to the `$connect` route, and `LIFT_AUTHORIZER` for
    /// the function. The list is its identity sources (`route.request.querystring.token`,
    /// `route.request.header.Authorization`, ...): API Gateway refuses a handshake without
    /// each of them with 401 before invoking anything; empty, the function finds the token
    /// wherever [`JwtAuth`](crate::auth::JwtAuth) reads it. (API Gateway does not cache a
    /// WebSocket authorizer's results: it runs once per handshake, and its verdict holds for the
    /// connection.) `your-app template` sets it from the app's settings. Default none.
    pub authorizer: Option<Vec<String>>,
    /// Presence ([`Settings::presence`](crate::Settings::presence)): `LIFT_PRESENCE` for the
    /// function, and a schedule invoking it every minute to sweep connections whose expiry
    /// passed without a `$disconnect` (their users' rooms are told `left`). `your-app template`
    /// sets it from the app's settings. Default off.
    pub presence: bool,
    /// How long the function's logs and the stage's access logs are kept, in days (a value
    /// CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, ...). Default 30. `None`: the
    /// function logs to the group Lambda makes itself, kept for ever.
    pub log_retention_days: Option<u32>,
    /// The stage's access logs: a log group and one JSON line per connect, message and
    /// disconnect (request id, connection id, event type, route key, status, integration
    /// status and latency, time, source IP, error). Default on.
    pub access_logs: bool,
    /// With [`access_logs`](Self::access_logs), API Gateway's CloudWatch Logs role for the
    /// account (`AWS::ApiGateway::Account`, which access logging needs). It is one setting per
    /// account and region: turn this off when the account has one already (another stack set
    /// it). Default on.
    pub account_log_role: bool,
    /// The stage's default route throttling. Default 500 messages per second, bursts of
    /// 1,000; `None`: the account's limits only.
    pub throttling: Option<Throttling>,
    /// CloudWatch alarms notifying an SNS topic (`AlarmTopic`, in the outputs): function
    /// errors and throttles, and fan-out dead letters (with the fan-out queue); with
    /// [`metrics_namespace`](Self::metrics_namespace), undelivered messages and store errors.
    /// What each means and what to do is in the README. Default on.
    pub alarms: bool,
    /// An email address the alarm topic sends to (AWS asks it to confirm). Default none.
    pub alarm_email: Option<String>,
    /// The namespace the app's [`Metrics`](crate::observe::Metrics) middleware writes to: the
    /// alarms on its `MessagesUndelivered` and `StoreErrors`. Default none (no such alarms).
    pub metrics_namespace: Option<String>,
    /// X-Ray active tracing of the function (API Gateway's WebSocket APIs have no X-Ray
    /// tracing of their own). Default off.
    pub tracing: bool,
}

/// The stage's default route throttling ([`Template::throttling`]): API Gateway answers
/// messages past it with `429` (the connection stays open).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Throttling {
    /// Steady messages per second, across the stage.
    pub rate: f64,
    /// Messages allowed at once above the rate.
    pub burst: u32,
}

impl Default for Throttling {
    /// 500 messages per second, bursts of 1,000: a ceiling on what a misbehaving client can
    /// cost, well under the account's 10,000.
    fn default() -> Self {
        Throttling {
            rate: 500.0,
            burst: 1_000,
        }
    }
}

impl Template {
    /// A template for `router` with the defaults of each field.
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
            fanout_consumers: Some(10),
            keepalive_route: None,
            history: None,
            authorizer: None,
            presence: false,
            log_retention_days: Some(30),
            access_logs: true,
            account_log_role: true,
            throttling: Some(Throttling::default()),
            alarms: true,
            alarm_email: None,
            metrics_namespace: None,
            tracing: false,
        }
    }

    /// The logical id of a route's resource: `Route` and the key's letters and digits
    /// (`$connect` → `RouteConnect`, `send-message` → `RouteSendMessage`), numbered when two keys
    /// would collide.
    fn route_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for route in &self.all_routes() {
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

    /// The app's routes, and the runtime's replay route with history.
    fn all_routes(&self) -> Vec<ApiRoute> {
        let mut routes = self.routes.clone();
        if self.history.is_some() {
            routes.push(ApiRoute {
                key: RouteKey::REPLAY,
                kind: crate::route_key::RouteKind::Message,
                info: None,
            });
        }
        routes
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
        for (route, id) in self.all_routes().iter().zip(&route_ids) {
            let mut properties = json!({
                "ApiId": api,
                "RouteKey": route.key,
                "Target": { "Fn::Sub": "integrations/${Integration}" },
            });
            if route.key == RouteKey::CONNECT && self.authorizer.is_some() {
                properties["AuthorizationType"] = json!("CUSTOM");
                properties["AuthorizerId"] = json!({ "Ref": "Authorizer" });
            }
            if route.reply() {
                properties["RouteResponseSelectionExpression"] = json!(RouteKey::DEFAULT);
                deployed.push(format!("{id}Response"));
                resources.insert(
                    format!("{id}Response"),
                    json!({
                        "Type": "AWS::ApiGatewayV2::RouteResponse",
                        "Properties": {
                            "ApiId": api,
                            "RouteId": { "Ref": id },
                            "RouteResponseKey": RouteKey::DEFAULT,
                        },
                    }),
                );
            }
            resources.insert(
                id.clone(),
                json!({ "Type": "AWS::ApiGatewayV2::Route", "Properties": properties }),
            );
        }
        if let Some(sources) = &self.authorizer {
            let mut properties = json!({
                "ApiId": api,
                "Name": format!("{}-connect", self.name),
                "AuthorizerType": "REQUEST",
                "AuthorizerUri": { "Fn::Sub":
                    "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Function.Arn}/invocations" },
            });
            if !sources.is_empty() {
                properties["IdentitySource"] = json!(sources);
            }
            resources.insert(
                "Authorizer".into(),
                json!({ "Type": "AWS::ApiGatewayV2::Authorizer", "Properties": properties }),
            );
        }
        if let Some(key) = &self.keepalive_route {
            add_keepalive(&mut resources, &mut deployed, &api, key);
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
        if let Some(consumers) = self.fanout_consumers.map(|n| n.clamp(2, 1000)) {
            variables.insert(
                "LIFT_FANOUT_QUEUE_URL".into(),
                json!({ "Ref": "FanoutQueue" }),
            );
            variables.insert("LIFT_FANOUT_CONSUMERS".into(), json!(consumers.to_string()));
        }
        if self.authorizer.is_some() {
            variables.insert("LIFT_AUTHORIZER".into(), json!("1"));
        }
        if self.presence {
            variables.insert("LIFT_PRESENCE".into(), json!("1"));
        }
        if let Some(keep) = self.history {
            variables.insert(
                "LIFT_HISTORY_SECS".into(),
                json!(keep.as_secs().to_string()),
            );
        }
        for (key, value) in &self.environment {
            variables.insert(key.clone(), json!(value));
        }
        let connections = |method: &str| {
            json!({ "Fn::Sub": format!(
                "arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{WebSocketApi}}/{}/{method}/@connections/*",
                self.stage
            ) })
        };
        let mut function = json!({
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
        });
        if let Some(consumers) = self.fanout_consumers.map(|n| n.clamp(2, 1000)) {
            self.add_fanout(&mut resources, &mut function, consumers);
        }
        if self.presence {
            // The sweep's announcements go through the stage's Management API.
            let input = format!(
                r#"{{"liftTask":"presence-sweep","managementEndpoint":"https://${{WebSocketApi}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{}"}}"#,
                self.stage
            );
            function["Properties"]["Events"]["PresenceSweep"] = json!({
                "Type": "Schedule",
                "Properties": {
                    "Schedule": "rate(1 minute)",
                    "Description": "Presence: users whose connections expired without a $disconnect leave their rooms",
                    "Input": { "Fn::Sub": input },
                },
            });
        }
        resources.insert("Function".into(), function);
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
        let mut outputs = json!({
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
        });
        if self.fanout_consumers.is_some() {
            outputs["FanoutQueueUrl"] = json!({
                "Description": "Where big rooms' broadcasts are handed off (LIFT_FANOUT_QUEUE_URL)",
                "Value": { "Ref": "FanoutQueue" },
            });
            outputs["FanoutDeadLetterQueueUrl"] = json!({
                "Description": "Fan-out records that failed every delivery",
                "Value": { "Ref": "FanoutDeadLetterQueue" },
            });
        }
        self.add_operations(&mut resources, &mut outputs);
        json!({
            "AWSTemplateFormatVersion": "2010-09-09",
            "Transform": "AWS::Serverless-2016-10-31",
            "Description": format!(
                "{}: API Gateway WebSocket API on AWS Lambda, generated by Lift from the router \
                 (regenerate it, do not edit it)",
                self.name
            ),
            "Resources": resources,
            "Outputs": outputs,
        })
    }
}

impl Template {
    /// The fan-out queue, its dead-letter queue, the function's SQS event (partial batch
    /// responses, at most `consumers` at once) and its right to send to the queue.
    fn add_fanout(&self, resources: &mut Map<String, Value>, function: &mut Value, consumers: u32) {
        resources.insert(
            "FanoutDeadLetterQueue".into(),
            json!({
                "Type": "AWS::SQS::Queue",
                "Properties": { "MessageRetentionPeriod": 1_209_600 },
            }),
        );
        resources.insert(
            "FanoutQueue".into(),
            json!({
                "Type": "AWS::SQS::Queue",
                "Properties": {
                    // AWS's advice for a queue feeding Lambda: six times the function's timeout.
                    "VisibilityTimeout": self.timeout_secs * 6,
                    "MessageRetentionPeriod": 3_600,
                    "RedrivePolicy": {
                        "deadLetterTargetArn": { "Fn::GetAtt": ["FanoutDeadLetterQueue", "Arn"] },
                        "maxReceiveCount": crate::settings::DEFAULT_MAX_RECEIVES,
                    },
                },
            }),
        );
        let properties = &mut function["Properties"];
        properties["Events"] = json!({
            "FanoutRecords": {
                "Type": "SQS",
                "Properties": {
                    "Queue": { "Fn::GetAtt": ["FanoutQueue", "Arn"] },
                    "BatchSize": 10,
                    "FunctionResponseTypes": ["ReportBatchItemFailures"],
                    "ScalingConfig": { "MaximumConcurrency": consumers },
                },
            },
        });
        if let Some(policies) = properties["Policies"].as_array_mut() {
            policies.push(json!({
                "SQSSendMessagePolicy": {
                    "QueueName": { "Fn::GetAtt": ["FanoutQueue", "QueueName"] },
                },
            }));
        }
    }
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

/// The keep-alive route `key`: a MOCK integration that answers every message on it with the
/// keep-alive answer as the route's response, so API Gateway answers it without invoking the
/// function.
fn add_keepalive(
    resources: &mut Map<String, Value>,
    deployed: &mut Vec<String>,
    api: &Value,
    key: &str,
) {
    let selection = format!("\\{}", RouteKey::DEFAULT);
    resources.insert(
        "KeepaliveIntegration".into(),
        json!({
            "Type": "AWS::ApiGatewayV2::Integration",
            "Properties": {
                "ApiId": api,
                "IntegrationType": "MOCK",
                "RequestTemplates": { RouteKey::DEFAULT: r#"{"statusCode": 200}"# },
                "TemplateSelectionExpression": selection,
            },
        }),
    );
    resources.insert(
        "KeepaliveIntegrationResponse".into(),
        json!({
            "Type": "AWS::ApiGatewayV2::IntegrationResponse",
            "Properties": {
                "ApiId": api,
                "IntegrationId": { "Ref": "KeepaliveIntegration" },
                "IntegrationResponseKey": RouteKey::DEFAULT,
                "ResponseTemplates": { RouteKey::DEFAULT: crate::settings::KEEPALIVE_ANSWER },
                "TemplateSelectionExpression": selection,
            },
        }),
    );
    resources.insert(
        "KeepaliveRoute".into(),
        json!({
            "Type": "AWS::ApiGatewayV2::Route",
            "Properties": {
                "ApiId": api,
                "RouteKey": key,
                "RouteResponseSelectionExpression": RouteKey::DEFAULT,
                "Target": { "Fn::Sub": "integrations/${KeepaliveIntegration}" },
            },
        }),
    );
    resources.insert(
        "KeepaliveRouteResponse".into(),
        json!({
            "Type": "AWS::ApiGatewayV2::RouteResponse",
            "Properties": {
                "ApiId": api,
                "RouteId": { "Ref": "KeepaliveRoute" },
                "RouteResponseKey": RouteKey::DEFAULT,
            },
        }),
    );
    for id in [
        "KeepaliveRoute",
        "KeepaliveRouteResponse",
        "KeepaliveIntegrationResponse",
    ] {
        deployed.push(id.to_owned());
    }
}
