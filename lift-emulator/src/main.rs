//! `lift-emulator`: API Gateway's WebSocket API, emulated in front of a Lambda function that
//! runs locally behind a Lambda Invoke API (`cargo lambda watch`, `sam local start-lambda`).
//! `lift-emulator --help` lists the options; the crate's README shows the loop.

use serde_json::{json, Map, Value};

#[tokio::main]
async fn main() -> Result<(), lift_runtime::Error> {
    lift_runtime::__emulator::main(std::env::args().skip(1).collect(), parse).await
}

/// A template's text as JSON: JSON itself, else YAML, CloudFormation's short tags (`!Ref X`,
/// `!Sub ...`, `!GetAtt A.B`, `!Join [...]`) written as their long forms.
fn parse(text: &str) -> Result<Value, String> {
    if let Ok(json) = serde_json::from_str(text) {
        return Ok(json);
    }
    let yaml: serde_norway::Value =
        serde_norway::from_str(text).map_err(|err| format!("neither JSON nor YAML: {err}"))?;
    Ok(long_form(yaml))
}

/// A YAML value as JSON, with CloudFormation's short tags in their long forms.
fn long_form(value: serde_norway::Value) -> Value {
    use serde_norway::Value as Yaml;
    match value {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => serde_json::to_value(&n).unwrap_or(Value::Null),
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(items.into_iter().map(long_form).collect()),
        Yaml::Mapping(entries) => {
            let mut object = Map::new();
            for (key, value) in entries {
                let key = match long_form(key) {
                    Value::String(key) => key,
                    other => other.to_string(),
                };
                object.insert(key, long_form(value));
            }
            Value::Object(object)
        }
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let value = long_form(tagged.value);
            match name {
                "Ref" | "Condition" => json!({ name: value }),
                // `!GetAtt Resource.Attribute` is `[Resource, Attribute]`.
                "GetAtt" => match value {
                    Value::String(path) => {
                        let (resource, attribute) = path.split_once('.').unwrap_or((&path, ""));
                        json!({ "Fn::GetAtt": [resource, attribute] })
                    }
                    other => json!({ "Fn::GetAtt": other }),
                },
                _ => json!({ format!("Fn::{name}"): value }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-written SAM template in YAML, as `sam init` writes them.
    const TEMPLATE: &str = r#"
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  ChatApi:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: chat
      ProtocolType: WEBSOCKET
      RouteSelectionExpression: "$request.body.action"
  ConnectRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref ChatApi
      RouteKey: $connect
      Target: !Join ['/', ['integrations', !Ref ConnectIntegration]]
  ConnectIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref ChatApi
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${OnConnectFunction.Arn}/invocations
  SendRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref ChatApi
      RouteKey: sendmessage
      Target: !Sub integrations/${SendIntegration}
  SendIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref ChatApi
      IntegrationType: AWS_PROXY
      TimeoutInMillis: 5000
      IntegrationUri: !Join
        - ''
        - - 'arn:aws:apigateway:'
          - !Ref AWS::Region
          - ':lambda:path/2015-03-31/functions/'
          - !GetAtt SendMessageFunction.Arn
          - '/invocations'
  OnConnectFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
  SendMessageFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
"#;

    #[test]
    fn short_tags_are_read_as_their_long_forms() {
        let json = parse(TEMPLATE).unwrap();
        let resources = &json["Resources"];
        assert_eq!(
            resources["ConnectRoute"]["Properties"]["ApiId"],
            json!({"Ref": "ChatApi"})
        );
        assert_eq!(
            resources["ConnectRoute"]["Properties"]["Target"],
            json!({"Fn::Join": ["/", ["integrations", {"Ref": "ConnectIntegration"}]]})
        );
        assert_eq!(
            resources["SendIntegration"]["Properties"]["IntegrationUri"]["Fn::Join"][1][3],
            json!({"Fn::GetAtt": ["SendMessageFunction", "Arn"]})
        );
        assert_eq!(
            resources["SendIntegration"]["Properties"]["TimeoutInMillis"],
            5000
        );
        // JSON is read as JSON; anything else says why.
        assert_eq!(parse(r#"{"a": 1}"#).unwrap(), json!({"a": 1}));
        assert!(parse("a: [").unwrap_err().contains("neither JSON nor YAML"));
    }

    #[tokio::test]
    async fn the_emulator_serves_a_yaml_templates_routes() {
        let config = lift_runtime::settings::LocalSettings {
            addr: "127.0.0.1:0".parse().unwrap(),
            ..Default::default()
        };
        // Nothing serves the Invoke API here: the template is read, and the emulator serves.
        let emulator = lift_runtime::__emulator::start(
            &parse(TEMPLATE).unwrap(),
            "http://127.0.0.1:9",
            &[],
            config,
        )
        .await
        .unwrap();
        assert!(emulator.url().starts_with("ws://127.0.0.1:"));
        emulator.shutdown().await;
    }
}
