//! One trace from the client's message to every send, on the Lambda path (`tower::Service` of
//! `LambdaEvent`s, as `lambda_runtime` calls it): the invocation's X-Ray trace header is on
//! every log line of the event and on every Management API request it makes; the fan-out
//! records it queues carry its request and trace ids, which the consumer invocation's log
//! lines name, while the consumer's own requests carry the consumer's trace.

use std::time::Duration;

use lift_runtime::fanout::{LocalQueue, LocalQueueConfig};
use lift_runtime::observe::lambda_subscriber;
use lift_runtime::settings::FanoutSettings;
use lift_runtime::store::MemoryStore;
use lift_runtime::App;
use lift_tests::events::{connect_event_for, message_event};
use lift_tests::faults::FaultServer;
use lift_tests::Buffer;
use serde_json::Value;
use tracing::instrument::WithSubscriber;

const BROADCAST_TRACE: &str =
    "Root=1-6752a1b0-0123456789abcdef01234567;Parent=1a2b3c4d5e6f7a8b;Sampled=1";
const CONSUMER_TRACE: &str =
    "Root=1-6752a1b1-fedcba9876543210fedcba98;Parent=8b7a6f5e4d3c2b1a;Sampled=1";

use lift_tests::lobby::lobby as app;

/// A field of the line's span (the innermost, as `lambda_subscriber` writes it).
fn span_field<'a>(line: &'a Value, field: &str) -> Option<&'a str> {
    line["span"][field].as_str()
}

#[tokio::test]
async fn the_trace_runs_from_the_message_to_every_send_and_through_the_fanout_queue() {
    let faults = FaultServer::start().await;
    let queue = LocalQueue::with_config(LocalQueueConfig {
        consumers: 1,
        visibility: Duration::from_millis(50),
        ..LocalQueueConfig::default()
    });
    let mut settings = lift_tests::endpoint(faults.endpoint());
    // Past two members, the rest goes through the queue.
    settings.fanout = FanoutSettings {
        threshold: 2,
        ids_per_record: 2,
        ..FanoutSettings::default()
    };
    let service = App::new(app::router())
        .store(MemoryStore::new())
        .settings(settings)
        .fanout_queue(queue.clone())
        .service()
        .await
        .expect("the app's service");
    let members: Vec<String> = (0..7).map(|i| format!("m{i}=")).collect();
    for id in &members {
        let response = lift_tests::handle_json(&service, connect_event_for(id)).await;
        assert_eq!(response.status_code, 200);
    }

    // The broadcast's invocation, with its trace.
    let broadcast_logs = Buffer::default();
    let mut context = lift_tests::context("req-shout", None);
    context.xray_trace_id = Some(BROADCAST_TRACE.to_owned());
    let event = message_event("m0=", "shout", "hello");
    let response = {
        use tower::ServiceExt;
        let event = lambda_runtime::LambdaEvent::new(event, context);
        let response = service
            .clone()
            .oneshot(event)
            .with_subscriber(lambda_subscriber(broadcast_logs.clone(), "info"))
            .await
            .expect("answered");
        lift_tests::websocket(response)
    };
    assert_eq!(response.status_code, 200);

    // The consumer's invocations, with a trace of their own.
    let consumer_logs = Buffer::default();
    let deliver: lift_runtime::fanout::Deliver = {
        let service = service.clone();
        let logs = consumer_logs.clone();
        std::sync::Arc::new(move |event, deadline| {
            let service = service.clone();
            let logs = logs.clone();
            Box::pin(async move {
                use tower::ServiceExt;
                let event = serde_json::to_value(&event).unwrap();
                let mut context = lift_tests::context("req-consumer", deadline);
                context.xray_trace_id = Some(CONSUMER_TRACE.to_owned());
                let event = lambda_runtime::LambdaEvent::new(event, context);
                let response = service
                    .oneshot(event)
                    .with_subscriber(lambda_subscriber(logs, "info"))
                    .await
                    .expect("answered");
                lift_tests::sqs(response)
            })
        })
    };
    let consumer = {
        use lift_runtime::fanout::FanoutQueue;
        queue.deliver(deliver).expect("the local queue delivers")
    };
    for _ in 0..200 {
        if members.iter().all(|id| faults.delivered(id) == 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    consumer.abort();
    for id in &members {
        assert_eq!(faults.delivered(id), 1, "{id}");
    }

    // Every line of the broadcast's invocation carries its trace, the app's own included.
    let lines = broadcast_logs.lines();
    assert!(
        lines.iter().any(|l| l["fields"]["message"] == "shouting"),
        "{lines:?}"
    );
    for line in &lines {
        assert_eq!(
            span_field(line, "trace_id"),
            Some(BROADCAST_TRACE),
            "{line}"
        );
        assert_eq!(span_field(line, "request_id"), Some("req-shout"), "{line}");
    }

    // Every Management API request carries the trace of the invocation that made it: the
    // broadcast's for the members it sent to itself, the consumer's for the rest.
    let traces = faults.traces();
    assert_eq!(traces.len(), members.len(), "{traces:?}");
    let by_broadcast = traces
        .iter()
        .filter(|(_, trace)| trace.as_deref() == Some(BROADCAST_TRACE))
        .count();
    let by_consumer = traces
        .iter()
        .filter(|(_, trace)| trace.as_deref() == Some(CONSUMER_TRACE))
        .count();
    assert_eq!(by_broadcast, 2, "{traces:?}");
    assert_eq!(by_consumer, members.len() - 2, "{traces:?}");

    // The consumer's record lines name the broadcast's request and trace.
    let lines = consumer_logs.lines();
    let records: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "fan-out record")
        .collect();
    assert!(!records.is_empty(), "{lines:?}");
    for line in records {
        assert_eq!(
            span_field(line, "origin_request_id"),
            Some("req-shout"),
            "{line}"
        );
        assert_eq!(
            span_field(line, "origin_trace_id"),
            Some(BROADCAST_TRACE),
            "{line}"
        );
        assert_eq!(span_field(line, "trace_id"), Some(CONSUMER_TRACE), "{line}");
    }
}
