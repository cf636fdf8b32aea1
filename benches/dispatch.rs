//! Dispatch: the chat example's `whoami` and `sendMessage` events through lift's `Service`,
//! against the same behaviour written by hand on `aws_lambda_events` types (what a
//! `lambda_runtime` handler without a framework does), in the same run. Both are handed the
//! event's bytes and read them as `lambda_runtime` reads an invocation's (`serde_path_to_error`
//! over `serde_json`, into the handler's payload type: lift's as `App::run` has it, and
//! `ApiGatewayWebsocketProxyRequest` for the hand-written one, as `examples/handwritten`), read
//! the same in-memory store and post through the same in-memory Management API, so what differs
//! is what each reads of the event and adds around the handler: routing, extraction, context,
//! replies.
//!
//! ```sh
//! cargo bench -p lift-benches --bench dispatch
//! ```
//!
//! It ends with one line: `summary dispatch: lift/hand-written=R` (the time of one `whoami` and
//! one `sendMessage`, lift's over the hand-written one's: the median of 31 rounds in which the
//! two take turns, after criterion's groups, whose ratio is printed too).
//!
//! `dispatch --events lift|hand-written whoami|sendMessage N` runs N events through one side
//! and nothing else, for instruction counts (`scripts/bench-dispatch-instructions`) and
//! profiles.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use criterion::Criterion;
use lambda_runtime::{Context, LambdaEvent};
use lift_runtime::__lambda::{LambdaService, Payload};
use lift_runtime::auth::JwtAuth;
use lift_runtime::prelude::*;
use lift_runtime::store::{collect, Connection, ConnectionStore, MemoryStore};
use lift_runtime::{App, ConnectionInfo, ManagementApi, SendError, Service, Settings};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[allow(dead_code)]
#[path = "../examples/chat/app.rs"]
mod chat_app;

/// Members of the chat's everyone-room, the sender included.
const MEMBERS: usize = 10;

/// A Management API that accepts every call and counts the posts.
#[derive(Debug, Default)]
struct InMemory {
    posts: AtomicUsize,
}

#[async_trait]
impl ManagementApi for InMemory {
    fn endpoint(&self) -> &str {
        "memory"
    }

    async fn post(&self, _connection_id: &str, data: &[u8]) -> Result<(), SendError> {
        std::hint::black_box(data);
        self.posts.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn delete(&self, _connection_id: &str) -> Result<(), SendError> {
        Ok(())
    }

    async fn info(&self, _connection_id: &str) -> Result<ConnectionInfo, SendError> {
        Ok(ConnectionInfo {
            connected_at: None,
            last_active_at: None,
            source_ip: None,
            user_agent: None,
        })
    }
}

/// An event's JSON, as the Runtime API hands it to `lambda_runtime`.
fn event(route: &str, body: &str) -> Vec<u8> {
    let event = json!({
        "requestContext": {
            "routeKey": route, "eventType": "MESSAGE", "messageDirection": "IN",
            "stage": "prod", "connectedAt": 1_700_000_000_000_i64, "requestTimeEpoch": 0,
            "requestId": "bench", "domainName": "abc.execute-api.eu-west-1.amazonaws.com",
            "connectionId": "member0=", "apiId": "abc", "messageId": "m",
            "identity": {"sourceIp": "127.0.0.1"}
        },
        "body": body,
        "isBase64Encoded": false
    });
    serde_json::to_vec(&event).expect("JSON")
}

/// `bytes` read as `lambda_runtime` reads an invocation's payload (its `deserializer`).
fn payload<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> T {
    let mut json = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut json).expect("an event")
}

// ---- the hand-written handler ---------------------------------------------------------------

#[derive(Deserialize)]
struct SendMessage {
    text: String,
    #[serde(default)]
    room: Option<String>,
}

#[derive(Serialize)]
struct Outgoing<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    room: Option<&'a str>,
    from: &'a str,
    text: &'a str,
}

#[derive(Serialize)]
struct WhoAmI<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'a str,
    #[serde(rename = "connectionId")]
    connection_id: &'a str,
}

fn respond(status: i64, body: Option<String>) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status;
    response.body = body.map(Body::Text);
    response
}

fn error_frame(code: &str, message: &str) -> String {
    json!({"type": "error", "code": code, "message": message}).to_string()
}

/// The chat's `whoami` and `sendMessage` (to everyone), written on `aws_lambda_events` types.
/// It is handed the event as `lambda_runtime` hands every handler one, with its `Context`, and
/// has no use for the context.
async fn hand_written(
    event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
    store: &dyn ConnectionStore,
    api: &dyn ManagementApi,
) -> ApiGatewayProxyResponse {
    let (event, _context) = event.into_parts();
    let rc = &event.request_context;
    let (Some(id), Some(route)) = (rc.connection_id.as_deref(), rc.route_key.as_deref()) else {
        return respond(400, Some(error_frame("invalid_event", "no connection id")));
    };
    let name = match store.get(id).await {
        Ok(Some(Connection {
            user: Some(user), ..
        })) => user,
        _ => return respond(200, Some(error_frame("internal", "not registered"))),
    };
    match route {
        "whoami" => {
            let body = WhoAmI {
                kind: "whoami",
                name: &name,
                connection_id: id,
            };
            respond(
                200,
                Some(serde_json::to_string(&body).expect("serialisable")),
            )
        }
        "sendMessage" => {
            let body = event.body.as_deref().unwrap_or_default();
            let Ok(message) = serde_json::from_str::<SendMessage>(body) else {
                let frame = error_frame("invalid_body", "not a message");
                let _ = api.post(id, frame.as_bytes()).await;
                return respond(200, None);
            };
            let outgoing = Outgoing {
                kind: "message",
                room: message.room.as_deref(),
                from: &name,
                text: &message.text,
            };
            let data = serde_json::to_vec(&outgoing).expect("serialisable");
            let members = collect(store.members(chat_app::EVERYONE))
                .await
                .unwrap_or_default();
            let mut gone = Vec::new();
            for member in members {
                if let Err(SendError::Gone { connection_id }) =
                    api.post(&member.connection_id, &data).await
                {
                    gone.push(connection_id);
                }
            }
            if !gone.is_empty() {
                let _ = store.remove_many(&gone).await;
            }
            respond(200, None)
        }
        _ => respond(200, Some(error_frame("unknown_route", route))),
    }
}

// ---- the benchmark ---------------------------------------------------------------------------

/// A middleware that only passes the event on: what the middleware chain costs.
#[ws_middleware]
async fn pass(ctx: &mut WsContext, next: Next<'_>) -> WsResult<Option<Reply>> {
    next.run(ctx).await
}

struct Setup {
    service: Service,
    /// The same app with one feature on each (`--events lift+FEATURE ...`): what each costs.
    features: Vec<(&'static str, Service)>,
    store: MemoryStore,
    api: Arc<InMemory>,
    whoami: Vec<u8>,
    send: Vec<u8>,
}

impl Setup {
    async fn new() -> Setup {
        let store = MemoryStore::new();
        for n in 0..MEMBERS {
            let id = format!("member{n}=");
            let mut connection = Connection::new(&id, SystemTime::now());
            connection.user = Some(format!("user{n}"));
            store.save(&connection).await.unwrap();
            store.join(&id, chat_app::EVERYONE).await.unwrap();
        }
        let api = Arc::new(InMemory::default());
        let app = || {
            let shared = api.clone();
            App::new(chat_app::chat::router())
                .store(store.clone())
                .management_api(move |_| shared.clone())
        };
        let service = app().service().await.expect("the app's service");
        let settings = |change: fn(&mut Settings)| {
            let mut settings = Settings::default();
            change(&mut settings);
            settings
        };
        let features = vec![
            ("middleware", app().middleware(pass)),
            (
                "jwt",
                app().middleware(JwtAuth::hs256(b"a secret of 32 bytes or more.....")),
            ),
            (
                "history",
                app().settings(settings(|s| s.history = Some(Duration::from_secs(60)))),
            ),
            ("presence", app().settings(settings(|s| s.presence = true))),
        ];
        let mut services = Vec::new();
        for (name, app) in features {
            services.push((name, app.service().await.expect("the app's service")));
        }
        Setup {
            service,
            features: services,
            store,
            api,
            whoami: event("whoami", r#"{"action":"whoami"}"#),
            send: event("sendMessage", r#"{"action":"sendMessage","text":"hello"}"#),
        }
    }

    /// As `lambda_runtime` calls it under `App::run`: through its `tower::Service`.
    async fn lift(&self, event: &[u8]) -> ApiGatewayProxyResponse {
        Self::run(&self.service, event).await
    }

    async fn run(service: &Service, event: &[u8]) -> ApiGatewayProxyResponse {
        use tower::Service as _;
        let event = LambdaEvent::new(payload::<Payload>(event), context());
        match LambdaService(service.clone()).call(event).await {
            Ok(lift_runtime::LambdaResponse::WebSocket(response)) => *response,
            _ => unreachable!("an API Gateway event gets an API Gateway response"),
        }
    }

    async fn hand(&self, event: &[u8]) -> ApiGatewayProxyResponse {
        let event = LambdaEvent::new(payload(event), context());
        hand_written(event, &self.store, &*self.api).await
    }
}

/// Rounds of the interleaved measurement, and pairs (a `whoami` and a `sendMessage`) per side
/// in each.
const ROUNDS: usize = 31;
const PAIRS: usize = 4_000;

/// Lift's time over the hand-written handler's for the same events, the two measured in turns
/// (`lift_benches::in_turns`): the median of the rounds' ratios.
fn interleaved(runtime: &tokio::runtime::Runtime, setup: &Setup) -> f64 {
    let time = |lift: bool| async move {
        let started = std::time::Instant::now();
        for _ in 0..PAIRS {
            if lift {
                std::hint::black_box(setup.lift(&setup.whoami).await);
                std::hint::black_box(setup.lift(&setup.send).await);
            } else {
                std::hint::black_box(setup.hand(&setup.whoami).await);
                std::hint::black_box(setup.hand(&setup.send).await);
            }
        }
        started.elapsed().as_secs_f64()
    };
    let turns = lift_benches::in_turns(ROUNDS, |lift| runtime.block_on(time(lift)));
    println!(
        "dispatch interleaved: {ROUNDS} rounds of {PAIRS} whoami+sendMessage per side, \
         lift/hand-written median {:.2} (rounds {:.2} to {:.2})",
        turns.median, turns.low, turns.high
    );
    turns.median
}

/// What Lambda tells each invocation besides the event (its request id and a deadline 10 s
/// away), made alike for both sides.
fn context() -> Context {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    lift_tests::context("bench", Some(deadline))
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let setup = runtime.block_on(Setup::new());

    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|arg| arg == "--events") {
        let usage = "--events lift|lift+FEATURE|hand-written whoami|sendMessage N \
                     (FEATURE: middleware, jwt, history, presence)";
        let (side, route, count) = match &args[at + 1..] {
            [side, route, count, ..] => (side.as_str(), route.as_str(), count),
            _ => panic!("{usage}"),
        };
        let count: usize = count.parse().expect(usage);
        let event = match route {
            "whoami" => &setup.whoami,
            "sendMessage" => &setup.send,
            _ => panic!("{usage}"),
        };
        runtime.block_on(async {
            for _ in 0..count {
                let response = match side {
                    "lift" => setup.lift(event).await,
                    "hand-written" => setup.hand(event).await,
                    side => {
                        let feature = side.strip_prefix("lift+");
                        let found = setup
                            .features
                            .iter()
                            .find(|(name, _)| Some(*name) == feature);
                        let (_, service) = found.unwrap_or_else(|| panic!("{usage}"));
                        Setup::run(service, event).await
                    }
                };
                std::hint::black_box(response);
            }
        });
        return;
    }

    // Both answer alike: the same reply to `whoami`, the same posts for `sendMessage`.
    runtime.block_on(async {
        let lift = setup.lift(&setup.whoami).await;
        let hand = setup.hand(&setup.whoami).await;
        assert_eq!(
            (lift.status_code, &lift.body),
            (hand.status_code, &hand.body)
        );
        let before = setup.api.posts.load(Ordering::Relaxed);
        assert_eq!(setup.lift(&setup.send).await.status_code, 200);
        let lift_posts = setup.api.posts.load(Ordering::Relaxed) - before;
        assert_eq!(setup.hand(&setup.send).await.status_code, 200);
        let hand_posts = setup.api.posts.load(Ordering::Relaxed) - before - lift_posts;
        assert_eq!((lift_posts, hand_posts), (MEMBERS, MEMBERS));
    });

    let started = SystemTime::now();
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let mut group = criterion.benchmark_group("dispatch");
    group.bench_function("lift", |b| {
        b.to_async(&runtime).iter(|| async {
            setup.lift(&setup.whoami).await;
            setup.lift(&setup.send).await;
        })
    });
    group.bench_function("hand_written", |b| {
        b.to_async(&runtime).iter(|| async {
            setup.hand(&setup.whoami).await;
            setup.hand(&setup.send).await;
        })
    });
    for (name, event) in [("whoami", &setup.whoami), ("send_message", &setup.send)] {
        group.bench_function(format!("lift_{name}"), |b| {
            b.to_async(&runtime).iter(|| setup.lift(event))
        });
        group.bench_function(format!("hand_written_{name}"), |b| {
            b.to_async(&runtime).iter(|| setup.hand(event))
        });
    }
    group.finish();

    let mean_ns = |name: &str| -> Option<f64> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/criterion/dispatch")
            .join(name)
            .join("new/estimates.json");
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
        if modified < started {
            return None;
        }
        let value: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        value["mean"]["point_estimate"].as_f64()
    };
    let ratio = |lift: &str, hand: &str| match (mean_ns(lift), mean_ns(hand)) {
        (Some(lift), Some(hand)) => format!("{:.2}", lift / hand),
        _ => "n/a".to_owned(),
    };
    for (name, lift, hand) in [
        ("whoami", "lift_whoami", "hand_written_whoami"),
        (
            "sendMessage",
            "lift_send_message",
            "hand_written_send_message",
        ),
    ] {
        if let (Some(l), Some(h)) = (mean_ns(lift), mean_ns(hand)) {
            println!(
                "dispatch {name}: lift {:.2} µs, hand-written {:.2} µs",
                l / 1e3,
                h / 1e3
            );
        }
    }
    println!(
        "dispatch criterion: lift/hand-written={} (criterion's means of `lift` and \
         `hand_written`, measured one after the other)",
        ratio("lift", "hand_written")
    );
    let interleaved = interleaved(&runtime, &setup);
    println!("summary dispatch: lift/hand-written={interleaved:.2}");
    criterion.final_summary();
}
