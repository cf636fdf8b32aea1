//! OpenTelemetry export (feature `otlp`), end to end: `App::run()` under Lambda (the real
//! `lambda_runtime` client against a stub of the Runtime API, X-Ray trace headers per
//! invocation) exports its spans over OTLP/HTTP to a receiver in this test, which decodes them
//! with the OpenTelemetry protocol's own types. A broadcast past the fan-out threshold and the
//! consumer invocations that finish it are one trace: the X-Ray trace of the broadcast's
//! invocation.
//!
//! Alone in its test binary: it sets the process environment Lambda would set.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use lift_runtime::fanout::{FanoutQueue, LocalQueue, LocalQueueConfig};
use lift_runtime::settings::FanoutSettings;
use lift_runtime::store::MemoryStore;
use lift_runtime::App;
use lift_tests::events::{connect_event_for, message_event};
use lift_tests::eventually;
use lift_tests::faults::FaultServer;
use lift_tests::runtime_api::{lambda_environment, RuntimeApi};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;

const BROADCAST_TRACE: &str =
    "Root=1-6752a1b0-0123456789abcdef01234567;Parent=1a2b3c4d5e6f7a8b;Sampled=0";
const BROADCAST_TRACE_ID: &str = "6752a1b00123456789abcdef01234567";
const CONSUMER_TRACE: &str =
    "Root=1-6752a1b1-fedcba9876543210fedcba98;Parent=8b7a6f5e4d3c2b1a;Sampled=1";
const CONSUMER_TRACE_ID: &str = "6752a1b1fedcba9876543210fedcba98";

use lift_tests::lobby::lobby as app;

/// One exported span, as the receiver decoded it.
#[derive(Clone, Debug)]
struct Span {
    name: String,
    trace_id: String,
    span_id: String,
    parent: String,
    attributes: HashMap<String, String>,
    service: String,
}

/// An OTLP/HTTP receiver (`POST /v1/traces`, protobuf), keeping every span it is sent.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Span>>>,
    requests: Arc<AtomicUsize>,
}

fn text(value: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(n)) => n.to_string(),
        Some(AnyValue::BoolValue(b)) => b.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

async fn traces(
    State(receiver): State<Receiver>,
    body: Bytes,
) -> ([(&'static str, &'static str); 1], Vec<u8>) {
    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf request");
    receiver.requests.fetch_add(1, Ordering::SeqCst);
    let mut spans = receiver.spans.lock().unwrap();
    for resource in request.resource_spans {
        let service = resource
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .map(|kv| text(kv.value.as_ref()))
            .unwrap_or_default();
        for scope in resource.scope_spans {
            for span in scope.spans {
                spans.push(Span {
                    name: span.name.clone(),
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent: hex(&span.parent_span_id),
                    attributes: span
                        .attributes
                        .iter()
                        .map(|kv| (kv.key.clone(), text(kv.value.as_ref())))
                        .collect(),
                    service: service.clone(),
                });
            }
        }
    }
    // An empty ExportTraceServiceResponse: everything accepted.
    ([("content-type", "application/x-protobuf")], Vec::new())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Receiver {
    async fn start() -> (Receiver, String) {
        let receiver = Receiver::default();
        let routes = axum::Router::new()
            .route("/v1/traces", post(traces))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, routes).await });
        (receiver, format!("http://{addr}"))
    }

    fn spans(&self) -> Vec<Span> {
        self.spans.lock().unwrap().clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_spans_the_broadcast_and_the_fanout_consumers_that_finish_it() {
    let (receiver, otlp_endpoint) = Receiver::start().await;
    let faults = FaultServer::start().await;
    let api = RuntimeApi::start().await;
    lambda_environment(
        &api,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &otlp_endpoint),
            ("OTEL_SERVICE_NAME", "otlp-test"),
        ],
    );
    let queue = LocalQueue::with_config(LocalQueueConfig {
        consumers: 1,
        visibility: Duration::from_millis(50),
        ..LocalQueueConfig::default()
    });
    let mut settings = lift_tests::endpoint(faults.endpoint());
    // Past two members, the rest goes through the queue, two members a record.
    settings.fanout = FanoutSettings {
        threshold: 2,
        ids_per_record: 2,
        ..FanoutSettings::default()
    };
    let app = tokio::spawn(
        App::new(app::router())
            .store(MemoryStore::new())
            .settings(settings)
            .fanout_queue(queue.clone())
            .run(),
    );
    let members: Vec<String> = (0..7).map(|i| format!("m{i}=")).collect();
    for id in &members {
        let answer = api
            .call(&format!("req-{id}"), connect_event_for(id).to_string())
            .await;
        assert_eq!(answer["statusCode"], 200, "{answer}");
    }
    // The broadcast, in an invocation with its X-Ray trace (unsampled by X-Ray, as without
    // active tracing: the OpenTelemetry sampler decides).
    api.invoke_traced(
        "req-shout",
        message_event("m0=", "shout", "hello").to_string(),
        Some(BROADCAST_TRACE),
    );
    assert_eq!(api.answer("req-shout").await["statusCode"], 200);

    // The fan-out queue's records delivered as Lambda would: SQS events, each an invocation of
    // the same function with a trace of its own.
    let consumers = Arc::new(AtomicUsize::new(0));
    let deliver: lift_runtime::fanout::Deliver = {
        let api = api.clone();
        let invocations = consumers.clone();
        Arc::new(move |event, _deadline| {
            let api = api.clone();
            let n = invocations.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                let id = format!("req-consumer-{n}");
                api.invoke_traced(
                    &id,
                    serde_json::to_vec(&event).unwrap(),
                    Some(CONSUMER_TRACE),
                );
                serde_json::from_value(api.answer(&id).await).expect("an SQS batch response")
            })
        })
    };
    let consumer = queue.deliver(deliver).expect("the local queue delivers");
    eventually("every member got the message", || async {
        members.iter().all(|id| faults.delivered(id) == 1)
    })
    .await;
    // Every consumer invocation exported its spans before it answered.
    eventually("the consumers' spans are exported", || async {
        let batches = receiver
            .spans()
            .iter()
            .filter(|s| s.name == "fanout_batch")
            .count();
        batches > 0 && batches == consumers.load(Ordering::SeqCst)
    })
    .await;
    consumer.abort();
    app.abort();

    let spans = receiver.spans();
    assert!(spans.iter().all(|s| s.service == "otlp-test"), "{spans:#?}");
    // The broadcast's event continues the X-Ray trace, under the X-Ray segment.
    let shout = spans
        .iter()
        .find(|s| {
            s.name == "ws_event"
                && s.attributes.get("route_key").map(String::as_str) == Some("shout")
        })
        .unwrap_or_else(|| panic!("no span of the shout event: {spans:#?}"));
    assert_eq!(shout.trace_id, BROADCAST_TRACE_ID);
    assert_eq!(shout.parent, "1a2b3c4d5e6f7a8b");
    assert_eq!(shout.attributes["request_id"], "req-shout");
    // Each record's span in the consumer is in the broadcast's trace, a child of a span of the
    // broadcast's invocation.
    let broadcast_spans: Vec<&str> = spans
        .iter()
        .filter(|s| s.trace_id == BROADCAST_TRACE_ID && s.name != "fanout_record")
        .map(|s| s.span_id.as_str())
        .collect();
    let records: Vec<&Span> = spans.iter().filter(|s| s.name == "fanout_record").collect();
    // Five members past the first two, two a record: three id records, and the cursor record
    // for the room's rest, expanded by a consumer.
    assert!(records.len() >= 3, "{spans:#?}");
    for record in records {
        assert_eq!(record.trace_id, BROADCAST_TRACE_ID, "{record:?}");
        assert!(
            broadcast_spans.contains(&record.parent.as_str()),
            "{record:?} is not a child of the broadcast's spans {broadcast_spans:?}"
        );
        assert_eq!(record.attributes["origin_request_id"], "req-shout");
        assert_eq!(record.attributes["room"], "lobby");
    }
    // The consumers' own invocations are their X-Ray traces.
    let batches: Vec<&Span> = spans.iter().filter(|s| s.name == "fanout_batch").collect();
    assert!(!batches.is_empty(), "{spans:#?}");
    for batch in batches {
        assert_eq!(batch.trace_id, CONSUMER_TRACE_ID, "{batch:?}");
    }
    // Connects without a trace header are traces of their own; lambda_runtime's span is left
    // out.
    let connects: Vec<&Span> = spans
        .iter()
        .filter(|s| s.attributes.get("route_key").map(String::as_str) == Some("$connect"))
        .collect();
    assert_eq!(connects.len(), members.len());
    assert!(connects
        .iter()
        .all(|s| s.trace_id != BROADCAST_TRACE_ID && s.parent.is_empty()));
    assert!(
        spans.iter().all(|s| !s.name.contains("Lambda runtime")),
        "{spans:#?}"
    );
    // Exported before each invocation answered: one request per invocation at most.
    let invocations = members.len()
        + 1
        + receiver
            .spans()
            .iter()
            .filter(|s| s.name == "fanout_batch")
            .count();
    assert!(receiver.requests.load(Ordering::SeqCst) <= invocations);
}
