//! A WebSocket API as a SAM (CloudFormation) template declares it, for the standalone emulator
//! (`lift-emulator`): the `AWS::ApiGatewayV2::Api` of protocol `WEBSOCKET`, its route selection
//! expression, its routes (two-way when they have a route response), the integration each
//! targets (a Lambda proxy integration names its function; a MOCK integration answers with its
//! response template), their timeouts, and a REQUEST authorizer on `$connect`.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::route_key::RouteKey;

/// What a route's messages go to.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Target {
    /// A Lambda function, by the logical id of its resource (or its name, when the template
    /// names a function outside it), invoked within `timeout`.
    Function { function: String, timeout: Duration },
    /// A MOCK integration: answered by API Gateway with this template's text (`None`: no
    /// answer).
    Mock(Option<String>),
}

/// A route of the API.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ApiRoute {
    pub(crate) target: Target,
    /// A two-way route: the integration's answer is sent back to the client.
    pub(crate) replies: bool,
}

/// The WebSocket API a template declares.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct WebSocketApi {
    /// The route selection expression's body path (`$request.body.action` → `["action"]`).
    pub(crate) selection: Vec<String>,
    /// The routes by key (`$connect`, `$disconnect`, `$default`, and the others).
    pub(crate) routes: HashMap<String, ApiRoute>,
    /// The function of `$connect`'s REQUEST authorizer.
    pub(crate) authorizer: Option<String>,
    /// Functions invoked on a schedule with the runtime's presence sweep.
    pub(crate) sweeps: Vec<String>,
}

/// API Gateway's default integration timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(29_000);

impl WebSocketApi {
    /// Reads the template's WebSocket API; an error says what is missing or not understood.
    pub(crate) fn from_template(template: &Value) -> Result<WebSocketApi, String> {
        let resources = template
            .get("Resources")
            .and_then(Value::as_object)
            .ok_or("the template has no Resources")?;
        let of_type = |kind: &'static str| {
            resources
                .iter()
                .filter(move |(_, resource)| resource["Type"] == kind)
                .map(|(id, resource)| (id.as_str(), &resource["Properties"]))
        };
        let apis: Vec<_> = of_type("AWS::ApiGatewayV2::Api")
            .filter(|(_, properties)| properties["ProtocolType"] == "WEBSOCKET")
            .collect();
        let (api, properties) = match apis.as_slice() {
            [one] => *one,
            [] => return Err("no AWS::ApiGatewayV2::Api with ProtocolType WEBSOCKET".into()),
            _ => return Err("more than one WebSocket API: the emulator serves one".into()),
        };
        let expression = properties["RouteSelectionExpression"]
            .as_str()
            .unwrap_or("$request.body.action");
        let selection = expression
            .strip_prefix("$request.body.")
            .filter(|path| !path.is_empty())
            .ok_or_else(|| {
                format!("unsupported RouteSelectionExpression `{expression}`: use $request.body.<field>")
            })?
            .split('.')
            .map(str::to_owned)
            .collect();
        let ours = |properties: &Value| reference(&properties["ApiId"]).as_deref() == Some(api);

        let responses: Vec<String> = of_type("AWS::ApiGatewayV2::RouteResponse")
            .filter(|(_, properties)| ours(properties))
            .filter_map(|(_, properties)| reference(&properties["RouteId"]))
            .collect();
        let mut routes = HashMap::new();
        let mut authorizer = None;
        for (id, properties) in of_type("AWS::ApiGatewayV2::Route").filter(|(_, p)| ours(p)) {
            let key = properties["RouteKey"]
                .as_str()
                .ok_or_else(|| format!("route {id} has no RouteKey"))?;
            let integration = target_integration(&properties["Target"])
                .ok_or_else(|| format!("route {id} ({key}) has no integrations/... Target"))?;
            let integration = resources
                .get(&integration)
                .map(|resource| &resource["Properties"])
                .ok_or_else(|| format!("route {id} targets {integration}, not in the template"))?;
            let target = integration_target(id, integration, resources)?;
            let replies = properties.get("RouteResponseSelectionExpression").is_some()
                || responses.iter().any(|route| route == id);
            if key == RouteKey::CONNECT && properties["AuthorizationType"] == "CUSTOM" {
                let authorizer_id = reference(&properties["AuthorizerId"])
                    .ok_or_else(|| format!("route {id} is CUSTOM without an AuthorizerId Ref"))?;
                let uri = &resources
                    .get(&authorizer_id)
                    .ok_or_else(|| format!("authorizer {authorizer_id} is not in the template"))?
                    ["Properties"]["AuthorizerUri"];
                authorizer = Some(function_of_uri(uri).ok_or_else(|| {
                    format!("authorizer {authorizer_id}: its AuthorizerUri names no function")
                })?);
            }
            routes.insert(key.to_owned(), ApiRoute { target, replies });
        }
        if routes.is_empty() {
            return Err(format!("the WebSocket API {api} has no routes"));
        }
        let sweeps = resources
            .iter()
            .filter(|(_, resource)| resource["Type"] == "AWS::Serverless::Function")
            .filter(|(_, resource)| {
                let events = resource["Properties"]["Events"].as_object();
                events.into_iter().flat_map(Map::values).any(|event| {
                    event["Type"] == "Schedule"
                        && event["Properties"]["Input"]
                            .to_string()
                            .contains(crate::service::PRESENCE_SWEEP)
                })
            })
            .map(|(id, _)| id.clone())
            .collect();
        Ok(WebSocketApi {
            selection,
            routes,
            authorizer,
            sweeps,
        })
    }
}

/// The integration an `integrations/ID` target names: `{"Fn::Sub": "integrations/${ID}"}`,
/// `{"Fn::Join": ["/", ["integrations", {"Ref": ID}]]}`, or a plain string.
fn target_integration(target: &Value) -> Option<String> {
    let text = match target {
        Value::String(text) => text.clone(),
        Value::Object(object) if object.contains_key("Fn::Sub") => match &object["Fn::Sub"] {
            Value::String(text) => text.clone(),
            Value::Array(parts) => parts.first()?.as_str()?.to_owned(),
            _ => return None,
        },
        Value::Object(object) if object.contains_key("Fn::Join") => {
            let parts = object["Fn::Join"].get(1)?.as_array()?;
            return parts.iter().rev().find_map(reference);
        }
        _ => return None,
    };
    let id = text.strip_prefix("integrations/")?;
    Some(id.trim_start_matches("${").trim_end_matches('}').to_owned())
}

/// What an integration does.
fn integration_target(
    route: &str,
    integration: &Value,
    resources: &Map<String, Value>,
) -> Result<Target, String> {
    let timeout = integration["TimeoutInMillis"]
        .as_u64()
        .map_or(DEFAULT_TIMEOUT, Duration::from_millis);
    match integration["IntegrationType"].as_str() {
        Some("AWS_PROXY") | Some("AWS") => {
            let function = function_of_uri(&integration["IntegrationUri"]).ok_or_else(|| {
                format!("route {route}: its integration's IntegrationUri names no Lambda function")
            })?;
            Ok(Target::Function { function, timeout })
        }
        Some("MOCK") => {
            // The answer is the integration response's template, if any.
            let answer = resources
                .values()
                .filter(|resource| resource["Type"] == "AWS::ApiGatewayV2::IntegrationResponse")
                .map(|resource| &resource["Properties"])
                .find(|properties| {
                    let id = reference(&properties["IntegrationId"]);
                    id.is_some_and(|id| {
                        resources.get(&id).map(|r| &r["Properties"]) == Some(integration)
                    })
                })
                .and_then(|properties| properties["ResponseTemplates"].as_object())
                .and_then(|templates| templates.values().next())
                .and_then(Value::as_str)
                .map(str::to_owned);
            Ok(Target::Mock(answer))
        }
        other => Err(format!(
            "route {route}: integration type {other:?} is not emulated (AWS_PROXY and MOCK are)"
        )),
    }
}

/// The function a Lambda invocation URI names: `${Function.Arn}` in a `Fn::Sub`,
/// `{"Fn::GetAtt": [Function, "Arn"]}` in a `Fn::Join`, or a literal ARN's function name.
fn function_of_uri(uri: &Value) -> Option<String> {
    match uri {
        Value::String(text) => {
            let (_, rest) = text.split_once(":function:")?;
            Some(rest.split(['/', ':']).next()?.to_owned())
        }
        Value::Object(object) if object.contains_key("Fn::Sub") => {
            let text = match &object["Fn::Sub"] {
                Value::String(text) => text.as_str(),
                Value::Array(parts) => parts.first()?.as_str()?,
                _ => return None,
            };
            let start = text.find("functions/${")? + "functions/${".len();
            let name = &text[start..];
            let name = &name[..name.find('}')?];
            Some(name.trim_end_matches(".Arn").to_owned())
        }
        Value::Object(object) if object.contains_key("Fn::Join") => object["Fn::Join"]
            .get(1)?
            .as_array()?
            .iter()
            .find_map(|part| part["Fn::GetAtt"].get(0)?.as_str().map(str::to_owned)),
        _ => None,
    }
}

/// The logical id a `{"Ref": ID}` names (or a plain string id).
fn reference(value: &Value) -> Option<String> {
    match value {
        Value::String(id) => Some(id.clone()),
        Value::Object(object) => object.get("Ref")?.as_str().map(str::to_owned),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_generated_template_is_read_back() {
        #[crate::ws_app]
        mod app {
            #[crate::ws_route("echo", reply)]
            async fn echo(body: String) -> crate::WsResult<crate::Reply> {
                Ok(crate::Reply::text(body))
            }
            #[crate::ws_route("say")]
            async fn say(_body: String) -> crate::WsResult {
                Ok(())
            }
        }
        let mut template = crate::deploy::Template::new(&app::router());
        template.keepalive_route = Some("ping".into());
        template.authorizer = Some(vec![]);
        template.presence = true;
        let api = WebSocketApi::from_template(&template.to_json()).unwrap();
        assert_eq!(api.selection, ["action"]);
        let function = Target::Function {
            function: "Function".into(),
            timeout: DEFAULT_TIMEOUT,
        };
        assert_eq!(api.routes["echo"].target, function);
        assert!(api.routes["echo"].replies);
        assert!(!api.routes["say"].replies);
        assert!(!api.routes[RouteKey::CONNECT].replies);
        assert!(api.routes.contains_key(RouteKey::DISCONNECT));
        assert_eq!(
            api.routes["ping"].target,
            Target::Mock(Some(crate::settings::KEEPALIVE_ANSWER.into()))
        );
        assert_eq!(api.authorizer.as_deref(), Some("Function"));
        assert_eq!(api.sweeps, ["Function"]);
    }

    #[test]
    fn a_hand_written_template_is_read_and_mistakes_are_named() {
        let template = json!({"Resources": {
            "Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {
                "ProtocolType": "WEBSOCKET", "RouteSelectionExpression": "$request.body.op.name"}},
            "Fn": {"Type": "AWS::Serverless::Function", "Properties": {}},
            "Int": {"Type": "AWS::ApiGatewayV2::Integration", "Properties": {
                "ApiId": {"Ref": "Api"}, "IntegrationType": "AWS_PROXY", "TimeoutInMillis": 5000,
                "IntegrationUri": {"Fn::Join": ["", ["arn:aws:apigateway:", {"Ref": "AWS::Region"},
                    ":lambda:path/2015-03-31/functions/", {"Fn::GetAtt": ["Fn", "Arn"]}, "/invocations"]]}}},
            "Other": {"Type": "AWS::ApiGatewayV2::Integration", "Properties": {
                "ApiId": {"Ref": "Api"}, "IntegrationType": "AWS_PROXY",
                "IntegrationUri": "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:1:function:elsewhere/invocations"}},
            "Connect": {"Type": "AWS::ApiGatewayV2::Route", "Properties": {
                "ApiId": {"Ref": "Api"}, "RouteKey": RouteKey::CONNECT,
                "Target": {"Fn::Join": ["/", ["integrations", {"Ref": "Int"}]]}}},
            "Hello": {"Type": "AWS::ApiGatewayV2::Route", "Properties": {
                "ApiId": {"Ref": "Api"}, "RouteKey": "hello", "Target": "integrations/Other"}},
            "HelloResponse": {"Type": "AWS::ApiGatewayV2::RouteResponse", "Properties": {
                "ApiId": {"Ref": "Api"}, "RouteId": {"Ref": "Hello"}, "RouteResponseKey": RouteKey::DEFAULT}},
        }});
        let api = WebSocketApi::from_template(&template).unwrap();
        assert_eq!(api.selection, ["op", "name"]);
        assert_eq!(
            api.routes[RouteKey::CONNECT],
            ApiRoute {
                target: Target::Function {
                    function: "Fn".into(),
                    timeout: Duration::from_secs(5)
                },
                replies: false
            }
        );
        assert_eq!(
            api.routes["hello"].target,
            Target::Function {
                function: "elsewhere".into(),
                timeout: DEFAULT_TIMEOUT
            }
        );
        assert!(api.routes["hello"].replies);

        let err = WebSocketApi::from_template(&json!({"Resources": {}})).unwrap_err();
        assert!(err.contains("WEBSOCKET"), "{err}");
        let mut http = template.clone();
        http["Resources"]["Int"]["Properties"]["IntegrationType"] = json!("HTTP_PROXY");
        let err = WebSocketApi::from_template(&http).unwrap_err();
        assert!(
            err.contains("HTTP_PROXY") && err.contains("Connect"),
            "{err}"
        );
        let mut header = template;
        header["Resources"]["Api"]["Properties"]["RouteSelectionExpression"] =
            json!("$request.header.x");
        let err = WebSocketApi::from_template(&header).unwrap_err();
        assert!(err.contains("$request.header.x"), "{err}");
    }
}
