//! Fan-out: rooms past one invocation. A broadcast to a room over the threshold sends to the
//! first members itself and queues the rest; the queue's consumers (the same service, fed SQS
//! events) reach every other member exactly once — through the in-process queue, through a
//! real SQS-compatible server (moto's, started by `scripts/test`), with real WebSocket clients
//! through the emulator, and as SQS events on the Lambda path.

use std::time::{Duration, SystemTime};

use lift_runtime::fanout::{FanoutQueue, LocalQueue, LocalQueueConfig, SqsQueue};
use lift_runtime::settings::{BroadcastSettings, FanoutSettings};
use lift_runtime::store::{Connection, ConnectionStore, MemoryStore};
use lift_runtime::testing::TestApp;
use lift_runtime::{App, Service, Settings};
use lift_tests::events::{fixture, message_event};
use lift_tests::init_tracing;
use lift_tests::rooms::big_room as rooms;
use lift_tests::sink::Sink;
use serde_json::{json, Value};

/// `n` live connections `m{i}=` in room `big` (and the sender `sender=`), opened a minute ago
/// (a 410 removes only connections past their first 30 s).
async fn room_of(n: usize) -> MemoryStore {
    let store = MemoryStore::new();
    for i in 0..n {
        let id = format!("m{i:05}=");
        store
            .save(&Connection::new(&id, lift_tests::a_minute_ago()))
            .await
            .unwrap();
        store.join(&id, "big").await.unwrap();
    }
    store
        .save(&Connection::new("sender=", lift_tests::a_minute_ago()))
        .await
        .unwrap();
    store.join("sender=", "big").await.unwrap();
    store
}

/// Settings that make a room of thousands take every path: many id records, several cursor
/// records in a chain, no retries within a consumer (so a failing send is put back at once).
fn small_settings() -> (FanoutSettings, BroadcastSettings) {
    let fanout = FanoutSettings {
        threshold: 100,
        ids_per_record: 100,
        expand_per_record: 700,
        rate: 1_000_000,
        consumers: 4,
        ..FanoutSettings::default()
    };
    let broadcast = BroadcastSettings {
        max_attempts: 1,
        ..BroadcastSettings::default()
    };
    (fanout, broadcast)
}

fn local_queue() -> LocalQueue {
    LocalQueue::with_config(LocalQueueConfig {
        consumers: 4,
        visibility: Duration::from_millis(50),
        ..LocalQueueConfig::default()
    })
}

async fn service(
    store: &MemoryStore,
    sink: &Sink,
    queue: impl FanoutQueue,
    fanout: FanoutSettings,
) -> Service {
    let (_, broadcast) = small_settings();
    App::new(rooms::router())
        .store(store.clone())
        .management_api(sink.connect())
        .settings(Settings {
            broadcast,
            fanout,
            ..Settings::default()
        })
        .fanout_queue(queue)
        .service()
        .await
        .expect("the app's service")
}

/// `shout` from `sender=` through the service, as API Gateway delivers it; the report.
async fn shout(service: &Service) -> Value {
    let response =
        lift_tests::handle_json(service, message_event("sender=", "shout", "hello")).await;
    assert_eq!(response.status_code, 200, "{response:?}");
    match response.body {
        Some(aws_lambda_events::encodings::Body::Text(text)) => {
            serde_json::from_str(&text).unwrap()
        }
        other => panic!("no report: {other:?}"),
    }
}

/// Checks that every member but the sender and the gone ones got the message exactly once.
fn assert_exactly_once(sink: &Sink, members: usize, gone: &[String]) {
    let mut missing = Vec::new();
    let mut twice = Vec::new();
    for i in 0..members {
        let id = format!("m{i:05}=");
        let expected = usize::from(!gone.contains(&id));
        match sink.delivered(&id) {
            n if n == expected => {}
            0 => missing.push(id),
            _ => twice.push(id),
        }
    }
    assert!(
        missing.is_empty() && twice.is_empty(),
        "missing {} (first {:?}), duplicated {} (first {:?})",
        missing.len(),
        missing.first(),
        twice.len(),
        twice.first()
    );
    assert_eq!(sink.delivered("sender="), 0, "the sender was excepted");
}

#[tokio::test]
async fn a_big_room_is_reached_exactly_once_through_the_local_queue() {
    init_tracing();
    let members = 3_000;
    let store = room_of(members).await;
    let sink = Sink::default();
    // Gone connections, in the direct part and in queued parts.
    let gone: Vec<String> = [3, 150, 1_234, 2_999]
        .iter()
        .map(|i| format!("m{i:05}="))
        .collect();
    for id in &gone {
        sink.gone(id);
    }
    // Connections whose sends fail twice: their records are put back (only their ids) and
    // redelivered until they get through. One (m00010) is among the members the broadcast's
    // own invocation sends to: it is queued too.
    let flaky: Vec<String> = [10, 200, 201, 2_500]
        .iter()
        .map(|i| format!("m{i:05}="))
        .collect();
    for id in &flaky {
        sink.fail(id, 2);
    }
    let queue = local_queue();
    let (fanout, _) = small_settings();
    let service = service(&store, &sink, queue.clone(), fanout).await;
    let delivery = lift_tests::deliver(&queue, &service);

    let report = shout(&service).await;
    // 100 sent to directly: one gone, one failing (queued).
    assert_eq!(report["sent"], 98, "{report}");
    assert_eq!(report["gone"], 1, "{report}");
    assert!(report["queued"].as_u64().unwrap() >= 1, "{report}");
    assert_eq!(report["queued_rest"], true, "{report}");

    assert!(
        queue.drained(Duration::from_secs(30)).await,
        "the queue never drained"
    );
    delivery.abort();
    assert_exactly_once(&sink, members, &gone);
    assert_eq!(sink.total(), members - gone.len());
    for id in &gone {
        assert!(
            store.get(id).await.unwrap().is_none(),
            "{id} was not removed"
        );
    }
    assert!(queue.dead_letters().is_empty());
}

#[tokio::test]
async fn consumers_whose_deadline_comes_half_way_leave_the_rest_to_the_next() {
    init_tracing();
    let members = 2_000;
    let store = room_of(members).await;
    let sink = Sink::default();
    sink.delay(Duration::from_millis(2));
    // Each consumer invocation has 600 ms (350 after the headroom) at 250 sends a second (1,000
    // over 4 consumers): fewer than a record's 100 ids; the rest are queued again, alone.
    let queue = LocalQueue::with_config(LocalQueueConfig {
        consumers: 4,
        timeout: Duration::from_millis(600),
        visibility: Duration::from_millis(50),
        ..LocalQueueConfig::default()
    });
    let (mut fanout, _) = small_settings();
    fanout.rate = 1_000;
    let service = service(&store, &sink, queue.clone(), fanout).await;
    let delivery = lift_tests::deliver(&queue, &service);
    let report = shout(&service).await;
    assert_eq!(report["sent"], 100, "{report}");
    assert!(
        queue.drained(Duration::from_secs(30)).await,
        "the queue never drained"
    );
    delivery.abort();
    assert_exactly_once(&sink, members, &[]);
    assert!(queue.dead_letters().is_empty());
    // 1,900 queued members are 19 id records and 3 cursor records: the rest were put back.
    assert!(
        queue.enqueued() > 30,
        "{} records: no consumer ran out of time",
        queue.enqueued()
    );
}

#[tokio::test]
async fn records_past_their_expiry_are_dropped() {
    init_tracing();
    let store = room_of(500).await;
    let sink = Sink::default();
    let queue = local_queue();
    let (mut fanout, _) = small_settings();
    fanout.expiry = Duration::ZERO;
    let service = service(&store, &sink, queue.clone(), fanout).await;
    let delivery = lift_tests::deliver(&queue, &service);
    let report = shout(&service).await;
    assert_eq!(report["sent"], 100, "{report}");
    assert!(queue.drained(Duration::from_secs(10)).await);
    delivery.abort();
    // Only the direct sends arrived: every queued record had expired when consumed.
    assert_eq!(sink.total(), 100);
    assert!(
        queue.dead_letters().is_empty(),
        "expired records are dropped, not dead-lettered"
    );
}

#[tokio::test]
async fn poison_records_reach_the_dead_letter_queue() {
    init_tracing();
    let store = room_of(1).await;
    let sink = Sink::default();
    let queue = local_queue();
    let (fanout, _) = small_settings();
    let service = service(&store, &sink, queue.clone(), fanout).await;
    let delivery = lift_tests::deliver(&queue, &service);
    queue
        .enqueue(vec!["not a fan-out record".into(), r#"{"key":1}"#.into()])
        .await
        .unwrap();
    assert!(queue.drained(Duration::from_secs(10)).await);
    delivery.abort();
    let mut dead = queue.dead_letters();
    dead.sort();
    assert_eq!(dead, ["not a fan-out record", r#"{"key":1}"#]);
    assert_eq!(sink.total(), 0);
}

#[tokio::test]
async fn real_clients_in_a_room_over_the_threshold_get_the_message_once_through_the_emulator() {
    init_tracing();
    let app = App::new(rooms::router()).settings(Settings {
        fanout: FanoutSettings {
            threshold: 2,
            ids_per_record: 1,
            ..FanoutSettings::default()
        },
        ..Settings::default()
    });
    let test = TestApp::start(app).await;
    let mut clients = Vec::new();
    for _ in 0..6 {
        clients.push(test.connect("/").await);
    }
    let mut sender = clients.pop().unwrap();
    sender.send_text(r#"{"action":"shout"}"#).await;
    let report = sender.recv_json().await;
    // Two sent directly; of the members read past them one queued by id, the rest of the
    // room by cursor.
    assert_eq!(report["sent"], 2, "{report}");
    assert_eq!(report["queued"], 1, "{report}");
    assert_eq!(report["queued_rest"], true, "{report}");
    for client in &mut clients {
        assert_eq!(client.recv_text().await, r#""{\"action\":\"shout\"}""#);
    }
    for client in &mut clients {
        client.expect_silence(Duration::from_millis(300)).await;
    }
    sender.expect_silence(Duration::from_millis(100)).await;
    test.shutdown().await;
}

/// The SQS event fixture of `aws_lambda_events` with two records: a fan-out record for `a=` and
/// `b=`, and one that is not a fan-out record.
fn sqs_event(expires_at_ms: u64) -> Value {
    let mut event = fixture("example-sqs-event.json");
    let mut good = event["Records"][0].clone();
    good["messageId"] = "good-1".into();
    good["body"] = json!({
        "key": "b-1.0",
        "endpoint": "https://abc.execute-api.eu-west-1.amazonaws.com/prod",
        "room": "big",
        "expires_at_ms": expires_at_ms,
        "data": "\"hi\"",
        "to": {"ids": ["a=", "b="]}
    })
    .to_string()
    .into();
    let mut bad = event["Records"][0].clone();
    bad["messageId"] = "bad-1".into();
    bad["body"] = "Message Body".into();
    event["Records"] = json!([good, bad]);
    event
}

#[tokio::test]
async fn sqs_events_on_the_lambda_path_report_the_records_that_failed() {
    init_tracing();
    let store = MemoryStore::new();
    let sink = Sink::default();
    let (fanout, _) = small_settings();
    let service = service(&store, &sink, local_queue(), fanout).await;
    let far = (SystemTime::now() + Duration::from_secs(60))
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let response = service.handle(sqs_event(far)).await;
    // What Lambda is answered, as JSON.
    let json = serde_json::to_value(&response).unwrap();
    let batch = lift_tests::sqs(response);
    let failed: Vec<&str> = batch
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["bad-1"]);
    assert_eq!(
        json,
        json!({"batchItemFailures": [{"itemIdentifier": "bad-1"}]})
    );
    assert_eq!((sink.delivered("a="), sink.delivered("b=")), (1, 1));

    // SQS delivering the same record again to this warm function: skipped.
    let response = service.handle(sqs_event(far)).await;
    assert_eq!(lift_tests::sqs(response).batch_item_failures.len(), 1);
    assert_eq!((sink.delivered("a="), sink.delivered("b=")), (1, 1));

    // An app without a fan-out queue cannot finish a record: every one is reported.
    let bare = App::new(rooms::router())
        .management_api(sink.connect())
        .service()
        .await
        .expect("the app\'s service");
    let response = bare.handle(sqs_event(far)).await;
    assert_eq!(lift_tests::sqs(response).batch_item_failures.len(), 2);
}

/// The moto server's endpoint (it speaks SQS and DynamoDB on one port).
fn sqs_endpoint() -> String {
    std::env::var("LIFT_TEST_SQS_ENDPOINT")
        .or_else(|_| std::env::var("LIFT_TEST_DYNAMODB_ENDPOINT"))
        .unwrap_or_else(|_| {
            panic!(
                "the SQS tests need an SQS-compatible server and were NOT run: use \
                 `./scripts/test` (it starts moto's server), or set \
                 LIFT_TEST_SQS_ENDPOINT=http://127.0.0.1:PORT"
            )
        })
}

fn sqs_config() -> aws_config::SdkConfig {
    use aws_config::{BehaviorVersion, Region};
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new("test", "test", None, None, "test"),
            ),
        )
        .endpoint_url(sqs_endpoint())
        .build()
}

/// A fresh queue with a dead-letter queue after two receives; (queue URL, DLQ URL).
async fn sqs_queues(client: &aws_sdk_sqs::Client, name: &str) -> (String, String) {
    use aws_sdk_sqs::types::QueueAttributeName;
    let unique = format!(
        "{name}-{}",
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let dlq = client
        .create_queue()
        .queue_name(format!("{unique}-dlq"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    let redrive = json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}).to_string();
    let queue = client
        .create_queue()
        .queue_name(unique)
        .attributes(QueueAttributeName::VisibilityTimeout, "1")
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    (queue, dlq)
}

#[tokio::test]
async fn a_big_room_is_reached_exactly_once_through_sqs() {
    init_tracing();
    let config = sqs_config();
    let client = aws_sdk_sqs::Client::new(&config);
    let (queue_url, dlq_url) = sqs_queues(&client, "fanout").await;
    let members = 3_000;
    let store = room_of(members).await;
    let sink = Sink::default();
    let gone = vec!["m00500=".to_owned(), "m02999=".to_owned()];
    for id in &gone {
        sink.gone(id);
    }
    let flaky = "m01000=";
    sink.fail(flaky, 1);
    let (fanout, _) = small_settings();
    let queue = SqsQueue::new(&config, &queue_url);
    let service = service(&store, &sink, queue.clone(), fanout).await;
    let delivery = lift_tests::deliver(&queue, &service);
    // A record no consumer can read, beside the broadcast.
    queue.enqueue(vec!["poison".into()]).await.unwrap();

    let report = shout(&service).await;
    assert_eq!(report["sent"], 100, "{report}");
    assert_eq!(report["queued_rest"], true, "{report}");

    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while sink.total() < members - gone.len() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The poison record is received twice (visibility timeout 1 s), then moved.
    let mut dead = Vec::new();
    while dead.is_empty() && std::time::Instant::now() < deadline {
        let out = client
            .receive_message()
            .queue_url(&dlq_url)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        dead.extend(
            out.messages
                .unwrap_or_default()
                .into_iter()
                .filter_map(|m| m.body),
        );
    }
    // Late duplicates would have arrived by now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    delivery.abort();
    assert_exactly_once(&sink, members, &gone);
    assert_eq!(dead, ["poison"]);
    for id in &gone {
        assert!(
            store.get(id).await.unwrap().is_none(),
            "{id} was not removed"
        );
    }

    // Records past their expiry are dropped by the consumers: a broadcast whose records
    // expire at once reaches only the members the broadcast's own invocation sent to.
    let expired = Sink::default();
    let (mut fanout, _) = small_settings();
    fanout.expiry = Duration::ZERO;
    let service = self::service(&store, &expired, queue.clone(), fanout).await;
    let delivery = lift_tests::deliver(&queue, &service);
    let report = shout(&service).await;
    assert_eq!(report["sent"], 100, "{report}");
    // Long enough for the consumers to receive and drop every record.
    let quiet = std::time::Instant::now() + Duration::from_secs(3);
    while std::time::Instant::now() < quiet {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    delivery.abort();
    assert_eq!(expired.total(), 100);
    let left = client
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    let visible = &left.attributes.unwrap_or_default()
        [&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages];
    assert_eq!(
        visible, "0",
        "expired records are deleted, not left on the queue"
    );
}

#[tokio::test]
async fn fanout_metrics_count_what_was_queued_consumed_retried_and_dead_lettered() {
    init_tracing();
    let store = room_of(250).await;
    let sink = Sink::default();
    // One member never takes the message: the record holding it alone is delivered three
    // times (the queue's maxReceiveCount), then dead-lettered.
    sink.fail("m00200=", usize::MAX);
    let queue = local_queue();
    let (fanout, broadcast) = small_settings();
    let metrics = lift_tests::Buffer::default();
    let service = App::new(rooms::router())
        .store(store.clone())
        .management_api(sink.connect())
        .middleware(lift_runtime::observe::Metrics::to_writer(
            "Lift/Test",
            metrics.clone(),
        ))
        .settings(Settings {
            broadcast,
            fanout,
            ..Settings::default()
        })
        .fanout_queue(queue.clone())
        .service()
        .await
        .expect("the app's service");
    let delivery = lift_tests::deliver(&queue, &service);
    let report = shout(&service).await;
    assert_eq!(report["sent"], 100, "{report}");
    assert!(queue.drained(Duration::from_secs(30)).await);
    delivery.abort();
    assert_eq!(queue.dead_letters().len(), 1);
    assert_eq!(sink.total(), 249);

    let lines = metrics.lines();
    let (events, batches): (Vec<&Value>, Vec<&Value>) =
        lines.iter().partition(|line| line.get("Route").is_some());
    assert_eq!(events.len(), 1, "one event: {lines:?}");
    assert_eq!(events[0]["MessagesDelivered"], 100);
    assert!(!batches.is_empty());
    for batch in &batches {
        assert_eq!(
            batch["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[]]),
            "{batch}"
        );
    }
    let sum = |metric: &str| -> u64 {
        lines
            .iter()
            .map(|line| line[metric].as_u64().unwrap_or(0))
            .sum()
    };
    assert_eq!(sum("FanoutRecordsDeadLettered"), 1, "{lines:?}");
    assert_eq!(sum("FanoutRecordsRetried"), 2, "{lines:?}");
    assert_eq!(sum("MessagesUndelivered"), 1, "{lines:?}");
    assert_eq!(sum("MessagesDelivered"), 249, "{lines:?}");
    // Every member queued (by the broadcast, or by a consumer expanding the room's rest) was
    // delivered or given up on by a consumer.
    let consumed: u64 = batches
        .iter()
        .map(|b| {
            b["MessagesDelivered"].as_u64().unwrap()
                + b["ConnectionsGone"].as_u64().unwrap()
                + b["MessagesUndelivered"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(sum("MessagesQueued"), consumed, "{lines:?}");
    assert_eq!(consumed, 150);
    let records = sum("FanoutRecords");
    assert!(records >= 4, "{records} records: {lines:?}");
}
