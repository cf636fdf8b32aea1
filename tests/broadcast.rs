//! Broadcast under faults: the real SDK client (SigV4 included) against a fake Management API
//! injecting 429s, 500s, 410s, 403s and slow answers, through the same service Lambda runs.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use lift_runtime::settings::BroadcastSettings;
use lift_runtime::store::{Connection, ConnectionStore, MemoryStore};
use lift_runtime::{App, Service, Settings};
use lift_tests::events::message_event;
use lift_tests::faults::{resetting_endpoint, FaultServer, FaultyStore, Plan};
use serde_json::{json, Value};
use tracing::instrument::WithSubscriber;

#[lift_runtime::ws_app]
mod fanout {
    use lift_runtime::prelude::*;
    use lift_runtime::BroadcastReport;
    use serde::Deserialize;
    use serde_json::{json, Value};

    #[derive(Deserialize)]
    pub struct Targets {
        #[serde(default)]
        pub ids: Vec<String>,
        #[serde(default)]
        pub room: Option<String>,
        #[serde(default)]
        pub user: Option<String>,
        #[serde(default)]
        pub size: usize,
        #[serde(default)]
        pub except: Option<String>,
    }

    fn summary(report: BroadcastReport) -> Value {
        json!({
            "sent": report.sent,
            "gone": report.gone,
            "failed": report.failed.iter().map(|(id, err)| json!([id, err.to_string()])).collect::<Vec<_>>(),
            "notAttempted": report.not_attempted,
            "unread": report.unread,
        })
    }

    #[ws_route("fanout", reply)]
    async fn fanout(ctx: &WsContext, Json(targets): Json<Targets>) -> WsResult<Json<Value>> {
        let message = json!({"type": "news", "padding": "x".repeat(targets.size)});
        let report = if let Some(room) = &targets.room {
            let room = ctx.room(room);
            let room = match &targets.except {
                Some(id) => room.except(id),
                None => room,
            };
            room.broadcast(&message).await?
        } else if let Some(user) = &targets.user {
            ctx.user(user).send(&message).await?
        } else {
            ctx.broadcast(&targets.ids, &message).await?
        };
        Ok(Json(summary(report)))
    }
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("conn{i:04}=")).collect()
}

async fn store_with(ids: &[String]) -> MemoryStore {
    let store = MemoryStore::new();
    for (i, id) in ids.iter().enumerate() {
        // Opened a minute ago: a connection found gone is removed only past its first 30 s.
        let mut conn = Connection::new(id, lift_tests::a_minute_ago());
        conn.user = Some(format!("user{}", i / 10));
        store.save(&conn).await.unwrap();
    }
    store
}

async fn service(store: &MemoryStore, endpoint: &str, broadcast: BroadcastSettings) -> Service {
    lift_tests::init_tracing();
    App::new(fanout::router())
        .store(store.clone())
        .settings(Settings {
            broadcast,
            ..lift_tests::endpoint(endpoint)
        })
        .service()
        .await
        .expect("the app's service")
}

/// What the Lambda context tells the function: its request id and deadline.
struct Invocation {
    request_id: String,
    deadline: Option<Instant>,
}

impl Invocation {
    /// A fresh request id, no deadline.
    fn new() -> Self {
        Invocation {
            request_id: "test".into(),
            deadline: None,
        }
    }
}

async fn fanout(service: &Service, body: Value, invocation: Invocation) -> Value {
    let event = message_event("caller=", "fanout", &body.to_string());
    let response =
        lift_tests::invoke(service, event, &invocation.request_id, invocation.deadline).await;
    match response.body {
        Some(aws_lambda_events::encodings::Body::Text(text)) => {
            serde_json::from_str(&text).unwrap()
        }
        other => panic!("no reply: {other:?}"),
    }
}

fn strings(value: &Value) -> Vec<String> {
    let mut list: Vec<String> = value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    list.sort();
    list
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_connections_with_throttles_errors_and_gone_ones() {
    let server = FaultServer::start().await;
    let all = ids(1000);
    let store = store_with(&all).await;
    for id in all.iter().take(30) {
        store.join(id, "lobby").await.unwrap();
    }
    // 10% throttled once, 5% failing once with 500, 10% gone; the rest plain.
    let mut gone = Vec::new();
    for (i, id) in all.iter().enumerate() {
        match i % 20 {
            0 | 1 => server.plan(id, Plan::Throttle(1)),
            2 => server.plan(id, Plan::ServerError(1)),
            3 | 4 => {
                server.plan(id, Plan::Gone);
                gone.push(id.clone());
            }
            _ => {}
        }
    }
    let service = service(&store, &server.endpoint(), BroadcastSettings::default()).await;
    let invocation = Invocation {
        request_id: "broadcast-1".into(),
        deadline: Some(Instant::now() + Duration::from_secs(60)),
    };
    let report = fanout(&service, json!({"ids": all}), invocation).await;

    assert_eq!(report["sent"], 900, "{report}");
    assert_eq!(strings(&report["gone"]), gone);
    assert_eq!(report["failed"], json!([]));
    assert_eq!(report["notAttempted"], json!([]));
    // Every live connection got the message exactly once; throttled ones were tried twice.
    for (i, id) in all.iter().enumerate() {
        let expected = if matches!(i % 20, 3 | 4) { 0 } else { 1 };
        assert_eq!(server.delivered(id), expected, "{id}");
        if matches!(i % 20, 0..=2) {
            assert_eq!(server.attempts(id), 2, "{id}");
        }
    }
    // Gone connections (and their memberships) are out of the store; no live one is.
    let left = lift_tests::conformance::live_ids(&store).await;
    let live: Vec<String> = all
        .iter()
        .filter(|id| !gone.contains(id))
        .cloned()
        .collect();
    assert_eq!(left, live);
    let members = lift_runtime::store::collect(store.members("lobby"))
        .await
        .unwrap();
    // Of the 30 in the lobby, conn0003=, conn0004=, conn0023= and conn0024= were gone.
    assert_eq!(members.len(), 26);
}

#[tokio::test]
async fn a_deadline_mid_broadcast_stops_cleanly_and_reports_what_was_not_attempted() {
    let server = FaultServer::start().await;
    server.delay(Duration::from_millis(100));
    let all = ids(200);
    let store = store_with(&all).await;
    let config = BroadcastSettings {
        concurrency: 4,
        headroom: Duration::from_millis(100),
        ..BroadcastSettings::default()
    };
    let service = service(&store, &server.endpoint(), config).await;
    let invocation = Invocation {
        request_id: "deadline".into(),
        deadline: Some(Instant::now() + Duration::from_millis(700)),
    };
    let report = fanout(&service, json!({"ids": all}), invocation).await;

    let sent = report["sent"].as_u64().unwrap() as usize;
    let not_attempted = report["notAttempted"].as_array().unwrap().len();
    let failed = report["failed"].as_array().unwrap().len();
    assert!(sent > 0, "{report}");
    assert!(not_attempted > 100, "{report}");
    assert_eq!(sent + failed + not_attempted, 200, "{report}");
    assert_eq!(server.total_delivered(), sent);
    // Nothing is removed for connections that were merely not reached.
    assert_eq!(store.list().await.unwrap().len(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_that_persist_fail_after_the_attempts_and_never_remove_a_live_connection() {
    let server = FaultServer::start().await;
    let all = ids(6);
    let store = store_with(&all).await;
    // 429, 500 and a proxy's 502/503/504, every time; the sixth connection is fine.
    let plans = [
        Plan::Throttle(1000),
        Plan::ServerError(1000),
        Plan::Status(502),
        Plan::Status(503),
        Plan::Status(504),
    ];
    for (id, plan) in all.iter().zip(plans) {
        server.plan(id, plan);
    }
    let config = BroadcastSettings {
        max_attempts: 3,
        base_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        ..BroadcastSettings::default()
    };
    let service = service(&store, &server.endpoint(), config).await;
    let report = fanout(&service, json!({"ids": all}), Invocation::new()).await;
    assert_eq!(report["sent"], 1, "{report}");
    let failed = report["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 5, "{report}");
    let reason = |id: &str| {
        failed
            .iter()
            .find(|f| f[0] == id)
            .map(|f| f[1].as_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    assert!(reason("conn0000=").contains("429"), "{report}");
    for (id, status) in [
        ("conn0001=", "500"),
        ("conn0002=", "502"),
        ("conn0003=", "503"),
        ("conn0004=", "504"),
    ] {
        assert!(reason(id).contains(status), "{id}: {report}");
    }
    // Each was tried exactly the configured number of times, and none was removed: a fault is
    // not a closed connection.
    for id in &all[..5] {
        assert_eq!(server.attempts(id), 3, "{id}");
    }
    assert_eq!(store.list().await.unwrap().len(), 6);
    // The process serves the next event, and the connections recover.
    for id in &all[..5] {
        server.plan(id, Plan::Deliver);
    }
    let report = fanout(&service, json!({"ids": all}), Invocation::new()).await;
    assert_eq!(report["sent"], 6, "{report}");
}

#[tokio::test]
async fn a_deadline_shorter_than_the_backoff_stops_the_retries() {
    // A connection throttled for good, an invocation of 300 ms: retried only while a pause
    // fits before the cutoff, never past it.
    let server = FaultServer::start().await;
    let all = ids(1);
    let store = store_with(&all).await;
    server.plan(&all[0], Plan::Throttle(1000));
    let config = BroadcastSettings {
        max_attempts: 100,
        base_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        headroom: Duration::from_millis(50),
        ..BroadcastSettings::default()
    };
    let service = service(&store, &server.endpoint(), config).await;
    let started = Instant::now();
    let invocation = Invocation {
        request_id: "short".into(),
        deadline: Some(started + Duration::from_millis(300)),
    };
    let report = fanout(&service, json!({"ids": all}), invocation).await;
    assert_eq!(report["failed"].as_array().unwrap().len(), 1, "{report}");
    // About four attempts fit (pauses of up to 50, 100, 200 ms before a 250 ms cutoff).
    assert!(server.attempts(&all[0]) < 10, "retried past the deadline");
    assert_eq!(store.list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_unreachable_management_api_fails_the_sends_and_keeps_the_connections() {
    // Nothing listens on the endpoint: connection refused on every attempt.
    let store = store_with(&ids(2)).await;
    let config = BroadcastSettings {
        max_attempts: 2,
        base_backoff: Duration::from_millis(1),
        ..BroadcastSettings::default()
    };
    let service = service(&store, "http://127.0.0.1:9", config).await;
    let report = fanout(&service, json!({"ids": ids(2)}), Invocation::new()).await;
    assert_eq!(report["sent"], 0, "{report}");
    assert_eq!(report["failed"].as_array().unwrap().len(), 2, "{report}");
    assert_eq!(store.list().await.unwrap().len(), 2);
}

#[tokio::test]
async fn connections_reset_by_the_management_api_are_retried_then_fail_and_are_kept() {
    // Every request is read and answered with a TCP reset: a network error, retried like a
    // 5xx, never taken for a closed connection.
    let (endpoint, requests) = resetting_endpoint().await;
    let store = store_with(&ids(2)).await;
    let config = BroadcastSettings {
        max_attempts: 3,
        base_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        ..BroadcastSettings::default()
    };
    let service = service(&store, &endpoint, config).await;
    let report = fanout(&service, json!({"ids": ids(2)}), Invocation::new()).await;
    assert_eq!(report["sent"], 0, "{report}");
    assert_eq!(report["gone"].as_array().unwrap().len(), 0, "{report}");
    let failed = report["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 2, "{report}");
    assert!(
        failed[0][1].as_str().unwrap().contains(&endpoint),
        "the reason names the endpoint: {report}"
    );
    assert_eq!(requests.load(Ordering::SeqCst), 6, "3 attempts each");
    assert_eq!(store.list().await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_slower_than_the_deadline_is_given_up_at_the_deadline() {
    // One connection's answer takes 30 s; the invocation has 1 s. The broadcast returns before
    // the deadline with that send failed, the others delivered, nothing removed, and the next
    // event is served.
    let server = FaultServer::start().await;
    let all = ids(3);
    let store = store_with(&all).await;
    server.plan(&all[0], Plan::Stall(Duration::from_secs(30)));
    let config = BroadcastSettings {
        headroom: Duration::from_millis(100),
        ..BroadcastSettings::default()
    };
    let service = service(&store, &server.endpoint(), config).await;
    let started = Instant::now();
    let invocation = Invocation {
        request_id: "slow".into(),
        deadline: Some(started + Duration::from_secs(1)),
    };
    let report = fanout(&service, json!({"ids": all}), invocation).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the handler returned after its deadline: {:?}",
        started.elapsed()
    );
    assert_eq!(report["sent"], 2, "{report}");
    let failed = report["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{report}");
    assert_eq!(failed[0][0], all[0].as_str());
    assert!(
        failed[0][1].as_str().unwrap().contains("deadline"),
        "{report}"
    );
    assert_eq!(
        server.attempts(&all[0]),
        1,
        "asked once, never again past the cutoff"
    );
    assert_eq!(store.list().await.unwrap().len(), 3);
    server.plan(&all[0], Plan::Deliver);
    let report = fanout(&service, json!({"ids": all}), Invocation::new()).await;
    assert_eq!(report["sent"], 3, "{report}");
}

#[tokio::test]
async fn forbidden_names_the_endpoint_and_is_not_retried() {
    let server = FaultServer::start().await;
    let store = store_with(&ids(2)).await;
    server.plan("conn0000=", Plan::Forbidden);
    let service = service(&store, &server.endpoint(), BroadcastSettings::default()).await;
    let report = fanout(&service, json!({"ids": ids(2)}), Invocation::new()).await;
    assert_eq!(report["sent"], 1);
    let reason = report["failed"][0][1].as_str().unwrap();
    assert!(
        reason.contains("403") && reason.contains(&server.endpoint()),
        "{reason}"
    );
    assert!(reason.contains("execute-api:ManageConnections"), "{reason}");
    assert_eq!(server.attempts("conn0000="), 1);
}

#[tokio::test]
async fn an_oversized_message_is_refused_before_any_request() {
    let server = FaultServer::start().await;
    let store = store_with(&ids(3)).await;
    let service = service(&store, &server.endpoint(), BroadcastSettings::default()).await;
    let reply = fanout(
        &service,
        json!({"ids": ids(3), "size": 129 * 1024}),
        Invocation::new(),
    )
    .await;
    assert_eq!(reply["code"], "message_too_large", "{reply}");
    assert_eq!(server.attempts("conn0000="), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_broadcast_keeps_the_sends_in_flight_across_pages() {
    // 60 members read 4 at a time: the sends must not wait for each page to finish before
    // the next one is read (the Management API's answers take 50 ms here), and must never
    // exceed the configured concurrency either.
    let server = FaultServer::start().await;
    server.delay(Duration::from_millis(50));
    let all = ids(60);
    let store = store_with(&all).await.page_size(4);
    for id in &all {
        store.join(id, "big").await.unwrap();
    }
    server.plan(&all[7], Plan::Gone);
    let config = BroadcastSettings {
        concurrency: 16,
        ..BroadcastSettings::default()
    };
    let service = service(&store, &server.endpoint(), config).await;

    let report = fanout(&service, json!({"room": "big"}), Invocation::new()).await;
    assert_eq!(report["sent"], 59, "{report}");
    assert_eq!(report["gone"], json!([all[7]]));
    assert_eq!(server.total_delivered(), 59);
    assert!(store.get(&all[7]).await.unwrap().is_none());
    assert!(
        server.max_in_flight() > 4,
        "sends went a page at a time: at most {} in flight",
        server.max_in_flight()
    );
    assert!(
        server.max_in_flight() <= 16,
        "{} sends in flight with a concurrency of 16",
        server.max_in_flight()
    );
}

#[tokio::test]
async fn a_store_failure_mid_room_finishes_the_sends_started_and_says_so() {
    let server = FaultServer::start().await;
    let all = ids(12);
    let memory = store_with(&all).await.page_size(5);
    for id in &all {
        memory.join(id, "red").await.unwrap();
    }
    server.plan(&all[2], Plan::Gone);
    let store = FaultyStore {
        inner: memory.clone(),
        members_fail_after: Some(1),
        ..FaultyStore::default()
    };
    lift_tests::init_tracing();
    let service = App::new(fanout::router())
        .store(store)
        .settings(lift_tests::endpoint(server.endpoint()))
        .service()
        .await
        .expect("the app\'s service");

    let reply = fanout(&service, json!({"room": "red"}), Invocation::new()).await;
    // The handler's `?` turns the failure into an internal error frame (the store's words
    // are logged, not shown to the client)...
    assert_eq!(
        reply,
        json!({"type": "error", "code": "internal", "message": "the message could not be delivered"})
    );
    // ...after the first page's sends were finished, and its gone connection removed.
    assert_eq!(server.total_delivered(), 4);
    assert!(memory.get(&all[2]).await.unwrap().is_none());
    assert!(memory.get(&all[3]).await.unwrap().is_some());
}

#[tokio::test]
async fn a_room_broadcast_reads_no_members_past_the_deadline() {
    // 60 members read 4 at a time, answers taking 100 ms, 4 in flight, 700 ms to the deadline
    // with 100 ms of headroom: the deadline comes long before the last page.
    let server = FaultServer::start().await;
    server.delay(Duration::from_millis(100));
    let all = ids(60);
    let memory = store_with(&all).await.page_size(4);
    for id in &all {
        memory.join(id, "big").await.unwrap();
    }
    let store = FaultyStore {
        inner: memory,
        ..FaultyStore::default()
    };
    let config = BroadcastSettings {
        concurrency: 4,
        headroom: Duration::from_millis(100),
        ..BroadcastSettings::default()
    };
    lift_tests::init_tracing();
    let service = App::new(fanout::router())
        .store(store.clone())
        .settings(Settings {
            broadcast: config,
            ..lift_tests::endpoint(server.endpoint())
        })
        .service()
        .await
        .expect("the app\'s service");
    let invocation = Invocation {
        request_id: "deadline".into(),
        deadline: Some(Instant::now() + Duration::from_millis(700)),
    };

    let logs = lift_tests::Buffer::default();
    let report = fanout(&service, json!({"room": "big"}), invocation)
        .with_subscriber(lift_runtime::observe::lambda_subscriber(
            logs.clone(),
            "info",
        ))
        .await;
    let pages = store.pages_read.load(Ordering::SeqCst);
    // The shortfall is logged as a warning with the counts, for the operator.
    let warning = logs
        .lines()
        .into_iter()
        .find(|line| {
            line.to_string()
                .contains("broadcast did not reach every connection")
        })
        .unwrap_or_else(|| panic!("no warning in {}", logs.text()));
    assert_eq!(warning["level"], "WARN", "{warning}");
    let text = warning.to_string();
    assert!(
        text.contains(r#""room":"big""#) && text.contains(r#""unread":true"#),
        "{warning}"
    );
    assert!(pages < 15, "all {pages} pages were read");
    assert_eq!(report["unread"], true, "{report}");
    // Every member read is in the report: sent, or not attempted (or failed at the deadline).
    let reported = report["sent"].as_u64().unwrap() as usize
        + report["failed"].as_array().unwrap().len()
        + report["notAttempted"].as_array().unwrap().len();
    assert_eq!(reported, pages * 4, "{report}");
    assert_eq!(
        server.total_delivered(),
        report["sent"].as_u64().unwrap() as usize
    );
}

#[tokio::test]
async fn the_metrics_line_counts_what_the_sends_did() {
    let server = FaultServer::start().await;
    let all = ids(10);
    let store = store_with(&all).await;
    server.plan(&all[3], Plan::Gone);
    server.plan(&all[4], Plan::Gone);
    server.plan(&all[5], Plan::Forbidden);
    let metrics = lift_tests::Buffer::default();
    let service = App::new(fanout::router())
        .store(store)
        .settings(lift_tests::endpoint(server.endpoint()))
        .middleware(lift_runtime::observe::Metrics::to_writer(
            "Lift/Test",
            metrics.clone(),
        ))
        .service()
        .await
        .expect("the app\'s service");

    let report = fanout(&service, json!({"ids": all}), Invocation::new()).await;
    assert_eq!(report["sent"], 7, "{report}");
    let lines = metrics.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert_eq!(line["MessagesDelivered"], 7, "{line}");
    assert_eq!(line["ConnectionsGone"], 2, "{line}");
    assert_eq!(line["MessagesUndelivered"], 1, "{line}");
    let names: Vec<&str> = line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect();
    for name in [
        "MessagesDelivered",
        "ConnectionsGone",
        "MessagesUndelivered",
    ] {
        assert!(names.contains(&name), "{name} is declared: {line}");
    }
}

#[tokio::test]
async fn rooms_and_users_broadcast_to_their_connections() {
    let server = FaultServer::start().await;
    let all = ids(12);
    let store = store_with(&all).await;
    for id in &all[..5] {
        store.join(id, "red").await.unwrap();
    }
    server.plan(&all[1], Plan::Gone);
    let service = service(&store, &server.endpoint(), BroadcastSettings::default()).await;

    let report = fanout(&service, json!({"room": "red"}), Invocation::new()).await;
    assert_eq!(report["sent"], 4, "{report}");
    assert_eq!(report["gone"], json!([all[1]]));
    assert_eq!(server.total_delivered(), 4);
    assert!(store.get(&all[1]).await.unwrap().is_none());

    // Everyone in the room but one (the sender, typically).
    let report = fanout(
        &service,
        json!({"room": "red", "except": all[0]}),
        Invocation::new(),
    )
    .await;
    assert_eq!(report["sent"], 3, "{report}");
    assert_eq!(
        server.delivered(&all[0]),
        1,
        "only the first broadcast reached it"
    );
    assert_eq!(server.delivered(&all[2]), 2);

    // Users: conn000x= belong to user0 (see store_with), conn001x= to user1.
    let report = fanout(&service, json!({"user": "user1"}), Invocation::new()).await;
    assert_eq!(report["sent"], 2, "{report}");
    assert_eq!(server.delivered("conn0010="), 1);
    assert_eq!(server.delivered("conn0011="), 1);
}

#[tokio::test]
async fn one_management_client_per_endpoint_for_the_life_of_the_process() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let store = store_with(&ids(1)).await;
    let sink = lift_tests::sink::Sink::default();
    let clients = sink.connect();
    let built = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = built.clone();
    let service = App::new(fanout::router())
        .store(store.clone())
        .management_api(move |endpoint| {
            counted.fetch_add(1, Ordering::SeqCst);
            clients(endpoint)
        })
        .settings(Settings::default())
        .service()
        .await
        .expect("the app's service");
    assert_eq!(built.load(Ordering::SeqCst), 0);
    for _ in 0..5 {
        fanout(&service, json!({"ids": ids(1)}), Invocation::new()).await;
    }
    assert_eq!(built.load(Ordering::SeqCst), 1);
    assert_eq!(sink.delivered("conn0000="), 5);
}

/// API Gateway answers 410 to a post to a connection whose `$connect` has not returned yet: a
/// broadcast from another invocation in that window must not remove its record (it would miss
/// every later broadcast to its rooms). A connection found gone in its first 30 s is kept; an
/// older one is removed with its memberships.
#[tokio::test]
async fn a_connection_still_in_its_connect_is_not_removed_by_a_410() {
    let server = FaultServer::start().await;
    let store = MemoryStore::new();
    let mut connecting = Connection::new("connecting=", SystemTime::now());
    connecting.rooms.insert("red".to_owned());
    let mut old = Connection::new("old=", lift_tests::a_minute_ago());
    old.rooms.insert("red".to_owned());
    let sender = Connection::new("sender=", lift_tests::a_minute_ago());
    for conn in [&connecting, &old, &sender] {
        store.save_joined(conn).await.unwrap();
    }
    server.plan("connecting=", Plan::Gone);
    server.plan("old=", Plan::Gone);
    let service = service(&store, &server.endpoint(), BroadcastSettings::default()).await;

    let report = fanout(&service, json!({"room": "red"}), Invocation::new()).await;
    assert_eq!(report["sent"], 0, "{report}");
    let mut gone: Vec<String> = serde_json::from_value(report["gone"].clone()).unwrap();
    gone.sort();
    assert_eq!(gone, ["connecting=", "old="], "both answered 410");
    assert!(
        store.get("connecting=").await.unwrap().is_some(),
        "kept: its $connect may still be running"
    );
    let members = lift_runtime::store::collect(store.members("red"))
        .await
        .unwrap();
    assert_eq!(members.len(), 1, "still a member: {members:?}");
    assert!(store.get("old=").await.unwrap().is_none(), "removed");

    // Once its $connect returned, the next broadcast reaches it.
    server.plan("connecting=", Plan::Deliver);
    let report = fanout(&service, json!({"room": "red"}), Invocation::new()).await;
    assert_eq!(report["sent"], 1, "{report}");
    assert_eq!(server.delivered("connecting="), 1);
}
