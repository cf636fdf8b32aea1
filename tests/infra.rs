//! Infrastructure from code: the chat's SAM template and AsyncAPI document, generated from its
//! router. The template is checked by `cfn-lint` (AWS's CloudFormation linter, with the SAM
//! translator; installed with moto by `scripts/test`), and its table against the table
//! `DynamoDbStore::create_table` makes on a real DynamoDB-compatible server.

use std::collections::BTreeSet;

use lift_runtime::deploy::{asyncapi, Template};
use lift_runtime::store::DynamoDbStore;
use lift_runtime::App;
use lift_tests::chat_app::chat;
use lift_tests::dynamodb;
use lift_tests::lint::cfn_lint;
use serde_json::{json, Value};

fn chat_template() -> Value {
    let mut template = Template::new(&chat::router());
    template.name = "chat".into();
    template.code_uri = "target/lambda/chat".into();
    template
        .environment
        .push(("LIFT_JWT_SECRET".into(), "change-me".into()));
    template.to_json()
}

fn resources_of<'a>(template: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

/// The chat example's message routes (`examples/chat/app.rs`), and which of them are two-way.
const CHAT_MESSAGE_ROUTES: [&str; 5] = ["join", "leave", "sendMessage", "users", "whoami"];
const CHAT_TWO_WAY_ROUTES: [&str; 4] = ["join", "leave", "users", "whoami"];

#[test]
fn the_template_has_every_route_and_passes_cfn_lint() {
    let template = chat_template();

    // Every route API Gateway needs: the three special ones (the runtime manages connections
    // and answers unknown routes itself), and each message route of the router.
    let keys: BTreeSet<&str> = resources_of(&template, "AWS::ApiGatewayV2::Route")
        .iter()
        .map(|(_, r)| r["Properties"]["RouteKey"].as_str().unwrap())
        .collect();
    let mut expected: BTreeSet<&str> = ["$connect", "$disconnect", "$default"].into();
    expected.extend(CHAT_MESSAGE_ROUTES);
    assert_eq!(keys, expected);

    // Two-way routes, and only they, have a route response.
    let replies: BTreeSet<&str> = resources_of(&template, "AWS::ApiGatewayV2::RouteResponse")
        .iter()
        .map(|(_, r)| {
            let route = r["Properties"]["RouteId"]["Ref"].as_str().unwrap();
            template["Resources"][route]["Properties"]["RouteKey"]
                .as_str()
                .unwrap()
        })
        .collect();
    let two_way: BTreeSet<&str> = CHAT_TWO_WAY_ROUTES.into();
    assert_eq!(replies, two_way);

    // The stage's deployment comes after every route and route response.
    let depends: BTreeSet<&str> = template["Resources"]["Deployment"]["DependsOn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap())
        .collect();
    let api_parts: BTreeSet<&str> = resources_of(&template, "AWS::ApiGatewayV2::Route")
        .into_iter()
        .chain(resources_of(&template, "AWS::ApiGatewayV2::RouteResponse"))
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(depends, api_parts);

    // The route selection expression the emulator uses.
    assert_eq!(
        template["Resources"]["WebSocketApi"]["Properties"]["RouteSelectionExpression"],
        "$request.body.action"
    );

    // The function may post, read and delete connections of this API's stage, and finds its
    // table in LIFT_TABLE_NAME.
    let function = &template["Resources"]["Function"]["Properties"];
    let statement = &function["Policies"][1]["Statement"][0];
    assert_eq!(statement["Action"], "execute-api:ManageConnections");
    let resources: Vec<String> = statement["Resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Fn::Sub"].as_str().unwrap().to_owned())
        .collect();
    for method in ["POST", "GET", "DELETE"] {
        assert!(
            resources.contains(&format!(
                "arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{WebSocketApi}}/prod/{method}/@connections/*"
            )),
            "{method}: {resources:?}"
        );
    }
    assert_eq!(
        function["Environment"]["Variables"]["LIFT_TABLE_NAME"],
        json!({"Ref": "Table"})
    );
    assert_eq!(
        function["Environment"]["Variables"]["LIFT_JWT_SECRET"],
        "change-me"
    );
    assert_eq!(function["CodeUri"], "target/lambda/chat");

    // AWS's linter accepts it...
    let (ok, output) = cfn_lint("chat-template", &template);
    assert!(ok, "cfn-lint refused the template:\n{output}");
    // ...and is really checking: a route without its key is refused.
    let mut broken = template.clone();
    broken["Resources"]["RouteConnect"]["Properties"]
        .as_object_mut()
        .unwrap()
        .remove("RouteKey");
    let (ok, output) = cfn_lint("broken-template", &broken);
    assert!(!ok && output.contains("RouteKey"), "{output}");
}

#[test]
fn the_template_has_the_fanout_queue_and_its_consumers() {
    let template = chat_template();
    let resources = &template["Resources"];
    let queue = &resources["FanoutQueue"]["Properties"];
    assert_eq!(
        queue["RedrivePolicy"]["deadLetterTargetArn"],
        json!({"Fn::GetAtt": ["FanoutDeadLetterQueue", "Arn"]})
    );
    assert_eq!(queue["VisibilityTimeout"], 29 * 6);
    let function = &resources["Function"]["Properties"];
    let event = &function["Events"]["FanoutRecords"];
    assert_eq!(event["Type"], "SQS");
    assert_eq!(
        event["Properties"]["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    assert_eq!(
        event["Properties"]["ScalingConfig"]["MaximumConcurrency"],
        10
    );
    let variables = &function["Environment"]["Variables"];
    assert_eq!(
        variables["LIFT_FANOUT_QUEUE_URL"],
        json!({"Ref": "FanoutQueue"})
    );
    assert_eq!(variables["LIFT_FANOUT_CONSUMERS"], "10");
    assert!(function["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p.get("SQSSendMessagePolicy").is_some()));

    // The consumers' maximum is a template option; the queue can be left out.
    let mut wide = Template::new(&chat::router());
    wide.fanout_consumers = Some(50);
    let wide = wide.to_json();
    let scaling = &wide["Resources"]["Function"]["Properties"]["Events"]["FanoutRecords"]
        ["Properties"]["ScalingConfig"];
    assert_eq!(scaling["MaximumConcurrency"], 50);
    let (ok, output) = cfn_lint("wide-template", &wide);
    assert!(ok, "cfn-lint refused the template:\n{output}");
    let mut bare = Template::new(&chat::router());
    bare.fanout_consumers = None;
    let bare = bare.to_json();
    assert!(bare["Resources"].get("FanoutQueue").is_none());
    assert!(bare["Resources"]["Function"]["Properties"]
        .get("Events")
        .is_none());
    let (ok, output) = cfn_lint("bare-template", &bare);
    assert!(ok, "cfn-lint refused the template:\n{output}");
}

#[test]
fn route_ids_are_valid_and_distinct_for_awkward_keys() {
    #[lift_runtime::ws_app]
    mod awkward {
        use lift_runtime::prelude::*;

        #[ws_route("send-message")]
        async fn dashed() -> WsResult {
            Ok(())
        }

        #[ws_route("send_message")]
        async fn underscored() -> WsResult {
            Ok(())
        }

        #[ws_route("SendMessage")]
        async fn camel() -> WsResult {
            Ok(())
        }
    }

    let template = Template::new(&awkward::router()).to_json();
    let routes = resources_of(&template, "AWS::ApiGatewayV2::Route");
    let ids: BTreeSet<&str> = routes.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(routes.len(), 6);
    assert_eq!(ids.len(), 6);
    assert!(ids.contains("RouteSendMessage") && ids.contains("RouteSendMessage2"));
    let (ok, output) = cfn_lint("awkward-template", &template);
    assert!(ok, "{output}");

    // The AsyncAPI document keeps the three apart too.
    let doc = asyncapi(&App::new(awkward::router()), "Awkward");
    let keys: BTreeSet<&str> = doc["operations"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|op| {
            let message = op["messages"][0]["$ref"].as_str()?.trim_start_matches('#');
            let message = doc.pointer(message)?["$ref"]
                .as_str()?
                .trim_start_matches('#');
            doc.pointer(message)?["name"].as_str()
        })
        .collect();
    assert_eq!(
        keys,
        [
            "$default",
            "SendMessage",
            "error",
            "send-message",
            "send_message"
        ]
        .into()
    );
}

#[tokio::test]
async fn the_template_table_is_the_table_create_table_makes() {
    let template = chat_template();
    let table = &template["Resources"]["Table"]["Properties"];

    let counter = dynamodb::RequestCounter::default();
    let client = dynamodb::client(&counter);
    let name = dynamodb::table_name("template");
    let store = DynamoDbStore::new(client.clone(), &name);
    assert!(store.create_table().await.unwrap());
    let described = client
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .unwrap();
    let made = described.table().unwrap();

    let pairs = |values: &Value, a: &str, b: &str| -> BTreeSet<(String, String)> {
        values
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v[a].as_str().unwrap().to_owned(),
                    v[b].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let made_attributes: BTreeSet<(String, String)> = made
        .attribute_definitions()
        .iter()
        .map(|a| {
            (
                a.attribute_name().to_owned(),
                a.attribute_type().as_str().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        pairs(
            &table["AttributeDefinitions"],
            "AttributeName",
            "AttributeType"
        ),
        made_attributes
    );
    let keys =
        |schema: &[aws_sdk_dynamodb::types::KeySchemaElement]| -> BTreeSet<(String, String)> {
            schema
                .iter()
                .map(|k| {
                    (
                        k.attribute_name().to_owned(),
                        k.key_type().as_str().to_owned(),
                    )
                })
                .collect()
        };
    assert_eq!(
        pairs(&table["KeySchema"], "AttributeName", "KeyType"),
        keys(made.key_schema())
    );

    let indexes = made.global_secondary_indexes();
    assert_eq!(indexes.len(), 1);
    let index = &table["GlobalSecondaryIndexes"][0];
    assert_eq!(index["IndexName"], indexes[0].index_name().unwrap());
    assert_eq!(
        pairs(&index["KeySchema"], "AttributeName", "KeyType"),
        keys(indexes[0].key_schema())
    );
    assert_eq!(
        index["Projection"]["ProjectionType"],
        indexes[0]
            .projection()
            .and_then(|p| p.projection_type())
            .unwrap()
            .as_str()
    );
    assert_eq!(
        table["BillingMode"],
        made.billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .unwrap()
            .as_str()
    );

    let ttl = client
        .describe_time_to_live()
        .table_name(&name)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(
        table["TimeToLiveSpecification"],
        json!({
            "AttributeName": ttl.attribute_name().unwrap(),
            "Enabled": ttl.time_to_live_status().unwrap().as_str() == "ENABLED",
        })
    );
}

/// Every `$ref` of an AsyncAPI document, resolved as a JSON pointer in the document.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                out.push(target.clone());
            }
            map.values().for_each(|v| refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn the_asyncapi_document_describes_every_message_and_reply() {
    let router = chat::router();
    let doc = asyncapi(&App::new(router), "Chat");
    assert_eq!(doc["asyncapi"], "3.1.0");

    let mut targets = Vec::new();
    refs(&doc, &mut targets);
    assert!(targets.len() > 10);
    for target in &targets {
        let pointer = target.strip_prefix('#').expect("a local reference");
        assert!(
            doc.pointer(pointer).is_some(),
            "{target} resolves to nothing"
        );
    }

    for key in CHAT_MESSAGE_ROUTES {
        let operation = &doc["operations"][key];
        assert_eq!(operation["action"], "receive", "{key}");
        let message = doc
            .pointer(
                operation["messages"][0]["$ref"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches('#'),
            )
            .unwrap();
        let message = doc
            .pointer(message["$ref"].as_str().unwrap().trim_start_matches('#'))
            .unwrap();
        // The route field, alone or beside the message type's schema.
        let payload = &message["payload"];
        let selector = payload.get("allOf").map_or(payload, |all| &all[0]);
        assert_eq!(selector["properties"]["action"]["const"], key);
        let two_way = CHAT_TWO_WAY_ROUTES.contains(&key);
        assert_eq!(operation["reply"].is_object(), two_way, "{key}");
    }
    // The chat's message types derive JsonSchema: their fields are described.
    assert_eq!(
        doc["components"]["messages"]["sendMessage"]["payload"]["allOf"][1]["properties"]["text"]
            ["description"],
        "What to say."
    );
    assert_eq!(
        doc["components"]["messages"]["whoamiReply"]["payload"]["properties"]["connectionId"]
            ["type"],
        "string"
    );

    // Unknown routes go to $default; the error frame is described.
    assert!(doc["operations"]["default"].is_object());
    assert_eq!(
        doc["components"]["messages"]["error"]["payload"]["required"],
        json!(["type", "code", "message"])
    );

    // The frames the chat pushes (`#[ws_push("message")]`): a `send` operation, the schema
    // of `ChatMessage` with the `"type"` field the macro adds.
    let push = &doc["operations"]["sendChatMessage"];
    assert_eq!(push["action"], "send");
    let frame = &doc["components"]["messages"]["ChatMessage"];
    assert_eq!(frame["name"], "message");
    assert_eq!(frame["payload"]["properties"]["type"]["const"], "message");
    assert_eq!(frame["payload"]["properties"]["from"]["type"], "string");
    assert!(frame["payload"]["required"]
        .as_array()
        .unwrap()
        .contains(&json!("type")));
    // No keep-alive route unless the settings name one; with one, its reply is the pong.
    assert!(doc["operations"].get("keepalive").is_none());
    let settings = lift_runtime::Settings {
        keepalive_route: Some("ping".into()),
        ..Default::default()
    };
    let with_ping = asyncapi(&App::new(router).settings(settings), "Chat");
    let keepalive = &with_ping["operations"]["keepalive"];
    assert_eq!(keepalive["action"], "receive");
    assert!(keepalive["reply"].is_object());
    assert_eq!(
        with_ping["components"]["messages"]["keepalive"]["payload"]["properties"]["action"]
            ["const"],
        "ping"
    );
    assert_eq!(
        with_ping["components"]["messages"]["pong"]["payload"]["properties"]["type"]["const"],
        "pong"
    );

    // A nested route selection expression is described as nested objects.
    let settings = lift_runtime::Settings {
        route_selection: "$request.body.meta.kind".into(),
        ..Default::default()
    };
    let nested = asyncapi(&App::new(router).settings(settings), "Chat");
    assert_eq!(
        nested["components"]["messages"]["join"]["payload"]["allOf"][0]["properties"]["meta"]
            ["properties"]["kind"]["const"],
        "join"
    );
}

#[lift_runtime::ws_app]
mod typed {
    use lift_runtime::prelude::*;
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    /// A chat message.
    #[derive(Deserialize, JsonSchema)]
    pub struct Say {
        /// What to say.
        pub text: String,
        /// Where: a room, or everyone.
        pub room: Option<String>,
    }

    #[derive(Serialize, JsonSchema)]
    pub struct Said {
        pub id: u64,
    }

    /// Not described: no `JsonSchema`.
    #[derive(Deserialize)]
    pub struct Opaque {
        pub anything: serde_json::Value,
    }

    #[ws_route("say", reply)]
    async fn say(Json(say): Json<Say>) -> WsResult<Json<Said>> {
        let room = say.room.map_or(0, |room| room.len());
        Ok(Json(Said {
            id: (say.text.len() + room) as u64,
        }))
    }

    #[ws_route("opaque")]
    async fn opaque(_ctx: &WsContext, Json(o): Json<Opaque>) -> WsResult {
        tracing::debug!(anything = %o.anything, "opaque");
        Ok(())
    }

    #[ws_route("raw", reply)]
    async fn raw(body: String) -> WsResult<Reply> {
        Ok(Reply::text(body))
    }

    /// A reply borrowed from the event.
    #[derive(Serialize, JsonSchema)]
    pub struct Echoed<'a> {
        /// The caller's connection id.
        pub connection: &'a str,
    }

    #[ws_route("echo", reply)]
    async fn echo(ctx: &WsContext) -> WsResult<Json<Echoed<'_>>> {
        Ok(Json(Echoed {
            connection: ctx.connection_id(),
        }))
    }

    #[ws_route("echoNamed", reply)]
    async fn echo_named<'a>(ctx: &'a WsContext) -> WsResult<Json<Echoed<'a>>> {
        Ok(Json(Echoed {
            connection: ctx.connection_id(),
        }))
    }
}

#[test]
fn message_types_deriving_json_schema_are_described() {
    let doc = asyncapi(&App::new(typed::router()), "Typed");
    let messages = &doc["components"]["messages"];

    // `say` takes Json<Say>: the route field and Say's schema, inlined.
    let say = &messages["say"]["payload"]["allOf"];
    assert_eq!(say[0]["properties"]["action"]["const"], "say", "{say}");
    assert_eq!(say[1]["properties"]["text"]["type"], "string", "{say}");
    assert_eq!(say[1]["properties"]["text"]["description"], "What to say.");
    assert_eq!(say[1]["required"], json!(["text"]), "{say}");
    // ...and returns Json<Said>.
    let said = &messages["sayReply"]["payload"];
    assert_eq!(said["properties"]["id"]["type"], "integer", "{said}");

    // Replies borrowing from the context are described like any other.
    let echoed = &messages["echoReply"]["payload"];
    assert_eq!(
        echoed["properties"]["connection"]["type"], "string",
        "{echoed}"
    );
    assert_eq!(
        echoed["properties"]["connection"]["description"],
        "The caller's connection id."
    );

    // Types without JsonSchema, and raw bodies, get the route field only.
    assert_eq!(
        messages["opaque"]["payload"]["properties"]["action"]["const"],
        "opaque"
    );
    assert!(messages["opaque"]["payload"].get("allOf").is_none());
    assert!(messages["raw"]["payload"].get("allOf").is_none());
    assert!(messages["rawReply"].get("payload").is_none());

    // Still self-contained: every $ref resolves inside the document.
    let mut targets = Vec::new();
    refs(&doc, &mut targets);
    for target in &targets {
        assert!(
            doc.pointer(target.trim_start_matches('#')).is_some(),
            "{target} resolves to nothing"
        );
    }
}

#[test]
fn the_keepalive_route_is_a_mock_integration_api_gateway_answers_itself() {
    let mut template = Template::new(&chat::router());
    template.keepalive_route = Some("ping".into());
    let template = template.to_json();
    let resources = &template["Resources"];
    let route = &resources["KeepaliveRoute"]["Properties"];
    assert_eq!(route["RouteKey"], "ping");
    assert_eq!(
        route["Target"],
        json!({"Fn::Sub": "integrations/${KeepaliveIntegration}"})
    );
    assert_eq!(route["RouteResponseSelectionExpression"], "$default");
    let integration = &resources["KeepaliveIntegration"]["Properties"];
    assert_eq!(integration["IntegrationType"], "MOCK");
    let answer = &resources["KeepaliveIntegrationResponse"]["Properties"]["ResponseTemplates"];
    assert_eq!(answer["$default"], r#"{"type":"pong"}"#);
    assert_eq!(
        resources["KeepaliveRouteResponse"]["Properties"]["RouteId"],
        json!({"Ref": "KeepaliveRoute"})
    );
    // The function is not its target: no invocation, and the stage deploys it.
    assert_ne!(
        route["Target"],
        json!({"Fn::Sub": "integrations/${Integration}"})
    );
    let deployed = resources["Deployment"]["DependsOn"].as_array().unwrap();
    for id in [
        "KeepaliveRoute",
        "KeepaliveRouteResponse",
        "KeepaliveIntegrationResponse",
    ] {
        assert!(deployed.contains(&json!(id)), "{id} is not deployed");
    }
    let (ok, output) = cfn_lint("keepalive-template", &template);
    assert!(ok, "cfn-lint refused the template:\n{output}");

    // Without it, none of this.
    let bare = Template::new(&chat::router()).to_json();
    assert!(bare["Resources"].get("KeepaliveRoute").is_none());
}

#[test]
fn with_history_the_replay_route_is_deployed_and_the_function_keeps_it() {
    let mut template = Template::new(&chat::router());
    template.history = Some(std::time::Duration::from_secs(300));
    let template = template.to_json();
    let resources = &template["Resources"];
    let route = &resources["RouteLiftReplay"]["Properties"];
    assert_eq!(route["RouteKey"], "lift:replay");
    // Served by the function, like the app's own routes, and deployed with them.
    assert_eq!(
        route["Target"],
        json!({"Fn::Sub": "integrations/${Integration}"})
    );
    let deployed = resources["Deployment"]["DependsOn"].as_array().unwrap();
    assert!(deployed.contains(&json!("RouteLiftReplay")));
    assert_eq!(
        resources["Function"]["Properties"]["Environment"]["Variables"]["LIFT_HISTORY_SECS"],
        "300"
    );
    let (ok, output) = cfn_lint("history-template", &template);
    assert!(ok, "cfn-lint refused the template:\n{output}");

    // Without it, neither.
    let bare = Template::new(&chat::router()).to_json();
    assert!(bare["Resources"].get("RouteLiftReplay").is_none());
    assert!(
        bare["Resources"]["Function"]["Properties"]["Environment"]["Variables"]
            .get("LIFT_HISTORY_SECS")
            .is_none()
    );
}

#[test]
fn with_the_authorizer_the_function_guards_connect() {
    for sources in [vec![], vec!["route.request.querystring.token".to_owned()]] {
        let mut template = Template::new(&chat::router());
        template.authorizer = Some(sources.clone());
        let template = template.to_json();
        let resources = &template["Resources"];
        let authorizer = &resources["Authorizer"]["Properties"];
        assert_eq!(authorizer["AuthorizerType"], "REQUEST");
        // The same function, through the permission API Gateway already has on it.
        assert!(authorizer["AuthorizerUri"]["Fn::Sub"]
            .as_str()
            .unwrap()
            .contains("${Function.Arn}"));
        match sources.is_empty() {
            true => assert!(authorizer.get("IdentitySource").is_none()),
            false => assert_eq!(authorizer["IdentitySource"], json!(sources)),
        }
        let connect = &resources["RouteConnect"]["Properties"];
        assert_eq!(connect["AuthorizationType"], "CUSTOM");
        assert_eq!(connect["AuthorizerId"], json!({"Ref": "Authorizer"}));
        // Only `$connect` is authorized (API Gateway allows no authorizer on other routes).
        assert!(resources["RouteDisconnect"]["Properties"]
            .get("AuthorizerId")
            .is_none());
        assert_eq!(
            resources["Function"]["Properties"]["Environment"]["Variables"]["LIFT_AUTHORIZER"],
            "1"
        );
        let (ok, output) = cfn_lint("authorizer-template", &template);
        assert!(ok, "cfn-lint refused the template:\n{output}");
    }
    let bare = Template::new(&chat::router()).to_json();
    assert!(bare["Resources"].get("Authorizer").is_none());
    assert!(bare["Resources"]["RouteConnect"]["Properties"]
        .get("AuthorizationType")
        .is_none());
}

#[test]
fn with_presence_the_function_is_swept_every_minute() {
    let mut template = Template::new(&chat::router());
    template.presence = true;
    template.stage = "dev".into();
    let template = template.to_json();
    let function = &template["Resources"]["Function"]["Properties"];
    assert_eq!(function["Environment"]["Variables"]["LIFT_PRESENCE"], "1");
    let sweep = &function["Events"]["PresenceSweep"];
    assert_eq!(sweep["Type"], "Schedule");
    assert_eq!(sweep["Properties"]["Schedule"], "rate(1 minute)");
    let input = sweep["Properties"]["Input"]["Fn::Sub"].as_str().unwrap();
    let input: Value = serde_json::from_str(input).unwrap();
    assert_eq!(input["liftTask"], "presence-sweep");
    assert_eq!(
        input["managementEndpoint"],
        "https://${WebSocketApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/dev"
    );
    // Beside the fan-out queue's event, not instead of it.
    assert!(function["Events"]["FanoutRecords"].is_object());
    let (ok, output) = cfn_lint("presence-template", &template);
    assert!(ok, "cfn-lint refused the template:\n{output}");
}
