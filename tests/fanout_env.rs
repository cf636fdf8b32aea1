//! The emulator configured from the environment as a user runs it: `LIFT_FANOUT_QUEUE_URL` and
//! `AWS_ENDPOINT_URL_SQS` naming a real SQS-compatible server (moto's), `LIFT_FANOUT_THRESHOLD`
//! lowered: real WebSocket clients in a room get a broadcast through that queue, once each. One
//! test in its own binary, since it sets the process's environment.

use std::time::Duration;

use lift_runtime::testing::TestApp;
use lift_runtime::App;
use lift_tests::init_tracing;
use lift_tests::rooms::big_room as rooms;

#[tokio::test]
async fn the_emulator_fans_out_through_the_sqs_queue_the_environment_names() {
    init_tracing();
    let endpoint = std::env::var("LIFT_TEST_SQS_ENDPOINT")
        .or_else(|_| std::env::var("LIFT_TEST_DYNAMODB_ENDPOINT"))
        .expect("set LIFT_TEST_SQS_ENDPOINT (scripts/test starts moto's server)");
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new("test", "test", None, None, "test"),
            ),
        )
        .endpoint_url(&endpoint)
        .build();
    let client = aws_sdk_sqs::Client::new(&config);
    let url = client
        .create_queue()
        .queue_name(format!("fanout-env-{}", std::process::id()))
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "1",
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    // A record no consumer can read: the emulator's poller receives it (and leaves it).
    client
        .send_message()
        .queue_url(&url)
        .message_body("poison")
        .send()
        .await
        .unwrap();
    std::env::set_var("LIFT_FANOUT_QUEUE_URL", &url);
    std::env::set_var("AWS_ENDPOINT_URL_SQS", &endpoint);
    std::env::set_var("LIFT_FANOUT_THRESHOLD", "1");

    let test = TestApp::start(App::new(rooms::router())).await;
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(test.connect("/").await);
    }
    let mut sender = clients.pop().unwrap();
    sender.send_text(r#"{"action":"shout","n":1}"#).await;
    let report = sender.recv_json().await;
    assert_eq!(report["sent"], 1, "{report}");
    // One sent directly; the other two queued (by id or as the rest of the room).
    assert!(
        report["queued"].as_u64().unwrap() > 0 || report["queued_rest"] == true,
        "{report}"
    );
    for client in &mut clients {
        assert_eq!(
            client.recv_text().await,
            r#""{\"action\":\"shout\",\"n\":1}""#
        );
    }
    for client in &mut clients {
        client.expect_silence(Duration::from_millis(500)).await;
    }
    test.shutdown().await;
    // The emulator polled this queue: the unreadable record was received, and only it is left.
    let mut receives = 0;
    for _ in 0..10 {
        let out = client
            .receive_message()
            .queue_url(&url)
            .wait_time_seconds(1)
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
            )
            .send()
            .await
            .unwrap();
        if let Some(message) = out.messages.unwrap_or_default().pop() {
            assert_eq!(message.body.as_deref(), Some("poison"));
            let attributes = message.attributes.unwrap_or_default();
            receives = attributes
                [&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount]
                .parse()
                .unwrap();
            break;
        }
    }
    assert!(
        receives >= 2,
        "the emulator never received from the queue ({receives})"
    );
}
