//! The generated template operates what it deploys: log groups with a retention, the stage's
//! access logs and throttling, alarms notifying a topic, X-Ray as an option; each part can be
//! changed or left out. Every variant passes `cfn-lint` and `sam validate --lint`.

use lift_runtime::deploy::{Template, Throttling};
use lift_tests::chat_app::chat;
use lift_tests::lint::{cfn_lint, sam_validate};
use serde_json::Value;

fn lint(name: &str, template: &Value) {
    let (ok, output) = cfn_lint(name, template);
    assert!(ok, "cfn-lint: {output}");
    let (ok, output) = sam_validate(name, template);
    assert!(ok, "sam validate --lint: {output}");
}

fn of_type<'a>(template: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, resource)| resource["Type"] == kind)
        .collect()
}

#[test]
fn by_default_logs_are_kept_30_days_the_stage_logs_and_throttles_and_alarms_notify_a_topic() {
    let template = Template::new(&chat::router()).to_json();
    let resources = &template["Resources"];

    // The function logs to a group of its own, kept 30 days.
    assert_eq!(
        resources["Function"]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"],
        "FunctionLogs"
    );
    assert_eq!(
        resources["FunctionLogs"]["Properties"]["RetentionInDays"],
        30
    );
    assert!(resources["Function"]["Properties"].get("Tracing").is_none());

    // The stage: access logs as JSON lines, to a group kept 30 days, and default throttling.
    let stage = &resources["Stage"]["Properties"];
    assert_eq!(
        stage["AccessLogSettings"]["DestinationArn"]["Fn::GetAtt"][0],
        "AccessLogs"
    );
    let format: Value =
        serde_json::from_str(stage["AccessLogSettings"]["Format"].as_str().unwrap())
            .expect("the access log format is one JSON object");
    for (field, variable) in [
        ("connectionId", "$context.connectionId"),
        ("routeKey", "$context.routeKey"),
        ("status", "$context.status"),
        ("integrationLatency", "$context.integrationLatency"),
        ("requestId", "$context.requestId"),
    ] {
        assert_eq!(format[field], variable, "{format}");
    }
    assert_eq!(resources["AccessLogs"]["Properties"]["RetentionInDays"], 30);
    assert_eq!(stage["DefaultRouteSettings"]["ThrottlingRateLimit"], 500.0);
    assert_eq!(stage["DefaultRouteSettings"]["ThrottlingBurstLimit"], 1000);
    // Access logging needs API Gateway's CloudWatch role for the account.
    assert_eq!(
        resources["ApiGatewayAccount"]["Type"],
        "AWS::ApiGateway::Account"
    );
    assert_eq!(resources["Stage"]["DependsOn"][0], "ApiGatewayAccount");

    // Alarms: function errors, throttles, fan-out dead letters, each notifying the topic.
    let alarms = of_type(&template, "AWS::CloudWatch::Alarm");
    let names: Vec<&str> = alarms.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        names,
        [
            "FanoutDeadLettersAlarm",
            "FunctionErrorsAlarm",
            "FunctionThrottlesAlarm"
        ]
    );
    for (id, alarm) in &alarms {
        assert_eq!(
            alarm["Properties"]["AlarmActions"][0]["Ref"], "AlarmTopic",
            "{id}"
        );
    }
    assert_eq!(
        template["Outputs"]["AlarmTopicArn"]["Value"]["Ref"],
        "AlarmTopic"
    );
    assert!(resources.get("AlarmEmail").is_none());
    lint("operations-default", &template);
}

#[test]
fn each_part_can_be_changed() {
    let mut template = Template::new(&chat::router());
    template.log_retention_days = Some(7);
    template.throttling = Some(Throttling {
        rate: 50.0,
        burst: 100,
    });
    template.alarm_email = Some("ops@example.com".into());
    template.metrics_namespace = Some("Lift/Chat".into());
    template.tracing = true;
    template.account_log_role = false;
    let template = template.to_json();
    let resources = &template["Resources"];
    assert_eq!(
        resources["FunctionLogs"]["Properties"]["RetentionInDays"],
        7
    );
    assert_eq!(resources["AccessLogs"]["Properties"]["RetentionInDays"], 7);
    let throttle = &resources["Stage"]["Properties"]["DefaultRouteSettings"];
    assert_eq!(throttle["ThrottlingRateLimit"], 50.0);
    assert_eq!(throttle["ThrottlingBurstLimit"], 100);
    assert_eq!(resources["Function"]["Properties"]["Tracing"], "Active");
    assert!(resources.get("ApiGatewayAccount").is_none());
    assert_eq!(
        resources["AlarmEmail"]["Properties"]["Endpoint"],
        "ops@example.com"
    );
    // The app's EMF metrics (the `Metrics` middleware's namespace), across routes.
    for (id, metric) in [
        ("UndeliveredAlarm", "MessagesUndelivered"),
        ("StoreErrorsAlarm", "StoreErrors"),
    ] {
        let alarm = &resources[id]["Properties"];
        assert_eq!(alarm["Namespace"], "Lift/Chat", "{id}");
        assert_eq!(alarm["MetricName"], metric, "{id}");
        assert_eq!(alarm["Dimensions"], serde_json::json!([]), "{id}");
    }
    lint("operations-changed", &template);
}

#[test]
fn each_part_can_be_left_out() {
    let mut template = Template::new(&chat::router());
    template.log_retention_days = None;
    template.access_logs = false;
    template.throttling = None;
    template.alarms = false;
    template.fanout_consumers = None;
    let template = template.to_json();
    let resources = &template["Resources"];
    for id in [
        "FunctionLogs",
        "AccessLogs",
        "ApiGatewayAccount",
        "AlarmTopic",
    ] {
        assert!(resources.get(id).is_none(), "{id}");
    }
    assert!(of_type(&template, "AWS::CloudWatch::Alarm").is_empty());
    assert!(resources["Function"]["Properties"]
        .get("LoggingConfig")
        .is_none());
    let stage = &resources["Stage"]["Properties"];
    assert!(stage.get("AccessLogSettings").is_none());
    assert!(stage.get("DefaultRouteSettings").is_none());
    lint("operations-bare", &template);
}
