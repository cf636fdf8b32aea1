//! What a deployment needs to be operated: log groups with a retention, the stage's access logs
//! and default throttling, CloudWatch alarms with an SNS topic, X-Ray tracing (see
//! [`Template`]'s fields and the README's "Operating it").

use serde_json::{json, Map, Value};

use super::Template;

/// The access log line of each connect, message and disconnect (JSON, one line).
const ACCESS_LOG_FORMAT: &str = concat!(
    r#"{"requestId":"$context.requestId","connectionId":"$context.connectionId","#,
    r#""eventType":"$context.eventType","routeKey":"$context.routeKey","#,
    r#""status":"$context.status","integrationStatus":"$context.integrationStatus","#,
    r#""integrationLatency":"$context.integrationLatency","#,
    r#""requestTime":"$context.requestTimeEpoch","sourceIp":"$context.identity.sourceIp","#,
    r#""error":"$context.error.message"}"#
);

impl Template {
    /// Adds the operational resources the fields ask for to `resources`, the function, the
    /// stage and the outputs.
    pub(super) fn add_operations(&self, resources: &mut Map<String, Value>, outputs: &mut Value) {
        let log_group = |retention: Option<u32>| {
            let mut group = json!({ "Type": "AWS::Logs::LogGroup", "Properties": {} });
            if let Some(days) = retention {
                group["Properties"]["RetentionInDays"] = json!(days);
            }
            group
        };
        if let Some(function) = resources.get_mut("Function") {
            if self.log_retention_days.is_some() {
                function["Properties"]["LoggingConfig"] =
                    json!({ "LogGroup": { "Ref": "FunctionLogs" } });
            }
            if self.tracing {
                function["Properties"]["Tracing"] = json!("Active");
            }
        }
        if self.log_retention_days.is_some() {
            resources.insert("FunctionLogs".into(), log_group(self.log_retention_days));
        }
        let stage = resources
            .get_mut("Stage")
            .map(|stage| &mut stage["Properties"]);
        if let Some(stage) = stage {
            if let Some(throttling) = self.throttling {
                stage["DefaultRouteSettings"] = json!({
                    "ThrottlingRateLimit": throttling.rate,
                    "ThrottlingBurstLimit": throttling.burst,
                });
            }
            if self.access_logs {
                stage["AccessLogSettings"] = json!({
                    "DestinationArn": { "Fn::GetAtt": ["AccessLogs", "Arn"] },
                    "Format": ACCESS_LOG_FORMAT,
                });
            }
        }
        if self.access_logs {
            resources.insert("AccessLogs".into(), log_group(self.log_retention_days));
            if self.account_log_role {
                self.add_account_log_role(resources);
            }
            outputs["AccessLogGroup"] = json!({
                "Description": "The stage's access logs: one JSON line per connect, message and disconnect",
                "Value": { "Ref": "AccessLogs" },
            });
        }
        if self.alarms {
            self.add_alarms(resources, outputs);
        }
    }

    /// API Gateway's CloudWatch Logs role, which access logging needs: one per account and
    /// region (`AWS::ApiGateway::Account`), so [`account_log_role`](Self::account_log_role)
    /// leaves it out where the account has one already.
    fn add_account_log_role(&self, resources: &mut Map<String, Value>) {
        resources.insert(
            "ApiGatewayLogRole".into(),
            json!({
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{
                            "Effect": "Allow",
                            "Principal": { "Service": "apigateway.amazonaws.com" },
                            "Action": "sts:AssumeRole",
                        }],
                    },
                    "ManagedPolicyArns": [{ "Fn::Sub":
                        "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs" }],
                },
            }),
        );
        resources.insert(
            "ApiGatewayAccount".into(),
            json!({
                "Type": "AWS::ApiGateway::Account",
                "Properties": { "CloudWatchRoleArn": { "Fn::GetAtt": ["ApiGatewayLogRole", "Arn"] } },
            }),
        );
        if let Some(stage) = resources.get_mut("Stage") {
            stage["DependsOn"] = json!(["ApiGatewayAccount"]);
        }
    }

    /// The alarms, each notifying the `AlarmTopic` SNS topic (with an email subscription when
    /// [`alarm_email`](Self::alarm_email) is set).
    fn add_alarms(&self, resources: &mut Map<String, Value>, outputs: &mut Value) {
        resources.insert("AlarmTopic".into(), json!({ "Type": "AWS::SNS::Topic" }));
        if let Some(email) = &self.alarm_email {
            resources.insert(
                "AlarmEmail".into(),
                json!({
                    "Type": "AWS::SNS::Subscription",
                    "Properties": {
                        "TopicArn": { "Ref": "AlarmTopic" },
                        "Protocol": "email",
                        "Endpoint": email,
                    },
                }),
            );
        }
        outputs["AlarmTopicArn"] = json!({
            "Description": "Where the alarms notify: subscribe to it",
            "Value": { "Ref": "AlarmTopic" },
        });
        let function = json!([{ "Name": "FunctionName", "Value": { "Ref": "Function" } }]);
        let mut alarm = |id: &str,
                         description: &str,
                         namespace: Value,
                         metric: &str,
                         dimensions: Value,
                         statistic: &str| {
            resources.insert(
                id.into(),
                json!({
                    "Type": "AWS::CloudWatch::Alarm",
                    "Properties": {
                        "AlarmDescription": description,
                        "Namespace": namespace,
                        "MetricName": metric,
                        "Dimensions": dimensions,
                        "Statistic": statistic,
                        "Period": 300,
                        "EvaluationPeriods": 1,
                        "Threshold": 0,
                        "ComparisonOperator": "GreaterThanThreshold",
                        "TreatMissingData": "notBreaching",
                        "AlarmActions": [{ "Ref": "AlarmTopic" }],
                        "OKActions": [{ "Ref": "AlarmTopic" }],
                    },
                }),
            );
        };
        alarm(
            "FunctionErrorsAlarm",
            "The function failed (a crash, a timeout, or an error Lift could not turn into a frame): see its log group",
            json!("AWS/Lambda"),
            "Errors",
            function.clone(),
            "Sum",
        );
        alarm(
            "FunctionThrottlesAlarm",
            "Lambda refused to run the function (concurrency limit): events were dropped or retried",
            json!("AWS/Lambda"),
            "Throttles",
            function,
            "Sum",
        );
        if self.fanout_consumers.is_some() {
            alarm(
                "FanoutDeadLettersAlarm",
                "Fan-out records failed every delivery and wait in the dead-letter queue: some room members missed a broadcast",
                json!("AWS/SQS"),
                "ApproximateNumberOfMessagesVisible",
                json!([{ "Name": "QueueName", "Value": { "Fn::GetAtt": ["FanoutDeadLetterQueue", "QueueName"] } }]),
                "Maximum",
            );
        }
        if let Some(namespace) = &self.metrics_namespace {
            alarm(
                "UndeliveredAlarm",
                "Management API sends failed after every retry (throttled or failing): messages were not delivered",
                json!(namespace),
                "MessagesUndelivered",
                json!([]),
                "Sum",
            );
            alarm(
                "StoreErrorsAlarm",
                "The connection store (DynamoDB) failed: events were answered with internal errors",
                json!(namespace),
                "StoreErrors",
                json!([]),
                "Sum",
            );
        }
    }
}
