//! Broadcast to 10,000 WebSocket connections on the local emulator's Management API, against
//! two baselines measured in the same run:
//!
//! 1. `sdk_sequential`: the same SDK client, one `PostToConnection` after another (the pattern
//!    of today's frameworks);
//! 2. `raw_http_concurrent`: unsigned HTTP POSTs with the same concurrency as Lift's default
//!    (the ceiling of this machine and emulator).
//!
//! and, to tell the cost of signing from the cost of the SDK's machinery,
//! `signed_http_concurrent`: the same POSTs signed with SigV4 by `aws-sigv4` (the SDK's own
//! signer) and sent with hyper at the same concurrency.
//!
//! `lift` is `ctx.broadcast(ids, &msg)` inside a handler, through the service Lambda runs (real
//! SDK client, SigV4 signing included). The 10,000 clients live in a child process (the
//! emulator's 10,000 server sockets and the clients' would not fit one process's file limit).
//!
//! ```sh
//! cargo bench -p lift-benches --bench broadcast
//! LIFT_BENCH_CONNECTIONS=1000 cargo bench -p lift-benches --bench broadcast   # quicker
//! ```
//!
//! At the end it prints messages per second and the ratios lift / sequential and
//! lift / ceiling (from criterion's estimates of this run).
//!
//! A second group, `broadcast_rtt`, repeats the three with the emulator answering every
//! Management API call 2 ms late (`LocalConfig::management_latency`), as a stand-in for the
//! network between a Lambda function and API Gateway, with 1,000 connections
//! (`LIFT_BENCH_RTT_CONNECTIONS`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_apigatewaymanagement::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_apigatewaymanagement::primitives::Blob;
use criterion::{Criterion, SamplingMode, Throughput};
use futures_util::StreamExt;
use http_body_util::Full;
use hyper::body::Bytes;
use lift_runtime::local::{Emulator, LocalConfig};
use lift_runtime::{App, BroadcastConfig, Invocation, Service};
use serde_json::json;

/// The connections each emulator's benchmark broadcasts to, by the emulator's address.
static IDS: OnceLock<Mutex<HashMap<String, &'static [String]>>> = OnceLock::new();

fn ids_of(domain: &str) -> &'static [String] {
    IDS.get_or_init(Default::default).lock().unwrap()[domain]
}

/// The connections of the emulator an event came through.
fn ids_for(ctx: &lift_runtime::WsContext) -> &'static [String] {
    let domain = ctx.event().request_context.domain_name.as_deref();
    ids_of(domain.unwrap_or_default())
}

#[lift_runtime::ws_app]
mod bench_app {
    use lift_runtime::prelude::*;

    /// Broadcasts one small message to every benchmark connection.
    #[ws_route("fanout", reply)]
    async fn fanout(ctx: &WsContext) -> WsResult<Reply> {
        let ids = super::ids_for(ctx);
        let report = ctx
            .broadcast(
                ids,
                &serde_json::json!({"type": "bench", "text": "hello, everyone"}),
            )
            .await?;
        assert_eq!(report.sent, ids.len(), "{report:?}");
        Ok(Reply::text(report.sent.to_string()))
    }

    /// Broadcasts one small message to the room every benchmark connection joined (members
    /// read from the store a page of 100 at a time).
    #[ws_route("fanout_room", reply)]
    async fn fanout_room(ctx: &WsContext) -> WsResult<Reply> {
        let report = ctx
            .room("everyone")
            .broadcast(&serde_json::json!({"type": "bench", "text": "hello, everyone"}))
            .await?;
        assert_eq!(report.sent, super::ids_for(ctx).len(), "{report:?}");
        Ok(Reply::text(report.sent.to_string()))
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if let Ok(url) = std::env::var("LIFT_BENCH_CLIENTS_OF") {
        clients_process(&url);
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let started = std::time::SystemTime::now();
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    let groups = [
        (
            "broadcast",
            env_number("LIFT_BENCH_CONNECTIONS", 10_000),
            Duration::ZERO,
        ),
        (
            "broadcast_rtt",
            env_number("LIFT_BENCH_RTT_CONNECTIONS", 1_000),
            Duration::from_millis(2),
        ),
    ];
    for (name, n, latency) in groups {
        let setup = runtime.block_on(Setup::start(n, latency));
        let concurrency = BroadcastConfig::default().concurrency;
        let mut group = criterion.benchmark_group(name);
        group.sampling_mode(SamplingMode::Flat);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function("lift", |b| b.to_async(&runtime).iter(|| setup.lift()));
        group.bench_function("lift_room", |b| {
            b.to_async(&runtime).iter(|| setup.lift_room())
        });
        group.bench_function("sdk_sequential", |b| {
            b.to_async(&runtime).iter(|| setup.sdk_sequential())
        });
        group.bench_function("raw_http_concurrent", |b| {
            b.to_async(&runtime)
                .iter(|| setup.raw_concurrent(concurrency))
        });
        group.bench_function("signed_http_concurrent", |b| {
            b.to_async(&runtime)
                .iter(|| setup.signed_concurrent(concurrency))
        });
        if !latency.is_zero() {
            // How the default concurrency was chosen: lift at other concurrencies.
            for other in [8, 16, 32, 64, 256] {
                let service = setup.service_with(other);
                group.bench_function(format!("lift_concurrency_{other}"), |b| {
                    b.to_async(&runtime).iter(|| setup.lift_on(&service))
                });
            }
        }
        group.finish();
        let costs = cpu_costs(&runtime, &setup, concurrency);
        let received = setup.stop_clients();
        println!("{name}: the clients received {received} frames in all");
        runtime.block_on(setup.emulator.shutdown());
        report(name, n, started);
        print_costs(name, &costs);
    }
    criterion.final_summary();
}

/// CPU spent per message by the thread that sends (the one polling the broadcast: the SDK's
/// orchestration, signing and request building run there; the HTTP connections' own tasks run
/// on the runtime's workers) and by the whole benchmark process (sender, emulator and HTTP
/// connections; the WebSocket clients are in the child process).
#[derive(Debug)]
struct Cost {
    name: &'static str,
    sender_us: f64,
    process_us: f64,
}

fn thread_cpu() -> Duration {
    cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

fn process_cpu() -> Duration {
    cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn cpu_clock(clock: libc::clockid_t) -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec; both clocks exist on Linux.
    let rc = unsafe { libc::clock_gettime(clock, &mut t) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Measures [`Cost`]s: a few broadcasts of each kind, on this (the main) thread, as criterion's
/// `to_async` runs them.
fn cpu_costs(runtime: &tokio::runtime::Runtime, setup: &Setup, concurrency: usize) -> Vec<Cost> {
    vec![
        cost_of(runtime, setup, "lift", || setup.lift()),
        cost_of(runtime, setup, "sdk_sequential", || setup.sdk_sequential()),
        cost_of(runtime, setup, "raw_http_concurrent", || {
            setup.raw_concurrent(concurrency)
        }),
        cost_of(runtime, setup, "signed_http_concurrent", || {
            setup.signed_concurrent(concurrency)
        }),
    ]
}

fn cost_of<F: std::future::Future<Output = ()>>(
    runtime: &tokio::runtime::Runtime,
    setup: &Setup,
    name: &'static str,
    run: impl Fn() -> F,
) -> Cost {
    const ROUNDS: u32 = 3;
    runtime.block_on(run()); // warm
    let (thread, process) = (thread_cpu(), process_cpu());
    for _ in 0..ROUNDS {
        runtime.block_on(run());
    }
    let per_message =
        |d: Duration| d.as_secs_f64() * 1e6 / (setup.ids().len() as f64 * f64::from(ROUNDS));
    Cost {
        name,
        sender_us: per_message(thread_cpu() - thread),
        process_us: per_message(process_cpu() - process),
    }
}

fn print_costs(group: &str, costs: &[Cost]) {
    println!("{group}: CPU per message (µs): sending thread / whole process (without the clients)");
    for cost in costs {
        println!(
            "  {:<20} {:>8.1} / {:>8.1}",
            cost.name, cost.sender_us, cost.process_us
        );
    }
    if let [lift, _, raw, ..] = costs {
        println!(
            "sending thread, lift / raw HTTP = {:.1}x",
            lift.sender_us / raw.sender_us
        );
    }
}

/// Prints messages per second and the ratios, from criterion's estimates of this run.
fn report(group: &str, n: usize, started: std::time::SystemTime) {
    let mean_ns = |name: &str| -> Option<f64> {
        let path = format!("target/criterion/{group}/{name}/new/estimates.json");
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(path);
        // Only estimates written by this run (a filtered-out benchmark keeps older ones).
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
        if modified < started {
            return None;
        }
        let text = std::fs::read_to_string(path).ok()?;
        let value: serde_json::Value = serde_json::from_str(&text).ok()?;
        value["mean"]["point_estimate"].as_f64()
    };
    let (Some(lift), Some(sequential), Some(ceiling)) = (
        mean_ns("lift"),
        mean_ns("sdk_sequential"),
        mean_ns("raw_http_concurrent"),
    ) else {
        println!("{group}: no estimates of this run to compare (filtered out, or --test)");
        return;
    };
    let rate = |ns: f64| n as f64 / (ns / 1e9);
    println!("{group}: messages per second, {n} connections:");
    println!("  lift                 {:>10.0}", rate(lift));
    if let Some(room) = mean_ns("lift_room") {
        println!("  lift_room            {:>10.0}", rate(room));
    }
    println!("  sdk_sequential       {:>10.0}", rate(sequential));
    println!("  raw_http_concurrent  {:>10.0}", rate(ceiling));
    println!("lift / sequential = {:.1}x", sequential / lift);
    println!("lift / ceiling    = {:.2}", ceiling / lift);
    if let Some(signed) = mean_ns("signed_http_concurrent") {
        println!("  signed_http_concurrent {:>8.0}", rate(signed));
        println!("lift / signed     = {:.2}", signed / lift);
    }
    println!(
        "ceiling / sequential = {:.1}x (the most any sender could gain on the sequential loop here)",
        sequential / ceiling
    );
}

struct Setup {
    emulator: Emulator,
    service: Service,
    event: serde_json::Value,
    sdk: aws_sdk_apigatewaymanagement::Client,
    http: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        Full<Bytes>,
    >,
    payload: Bytes,
    child: std::sync::Mutex<Child>,
}

impl Setup {
    async fn start(n: usize, latency: Duration) -> Setup {
        // Unsigned requests (the raw ceiling) must pass: signatures are checked in the tests.
        let config = LocalConfig::default()
            .addr("127.0.0.1:0".parse().unwrap())
            .management_latency(latency)
            .skip_signature_checks();
        let store = lift_runtime::store::MemoryStore::new();
        let service = App::new(bench_app::router()).store(store.clone()).service();
        let emulator = Emulator::start(service, config).await.expect("emulator");
        let url = emulator.url();

        // The clients, in a child process.
        let mut child = Command::new(std::env::current_exe().expect("own path"))
            .env("LIFT_BENCH_CLIENTS_OF", &url)
            .env("LIFT_BENCH_CONNECTIONS", n.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("client process");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().expect("stdout"))
            .read_line(&mut line)
            .expect("child says ready");
        assert_eq!(line.trim(), "ready", "the client process failed");
        let deadline = Instant::now() + Duration::from_secs(120);
        while emulator.connection_ids().len() < n {
            assert!(Instant::now() < deadline, "clients did not all connect");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let ids: &'static [String] = Vec::leak(emulator.connection_ids());
        {
            use lift_runtime::store::ConnectionStore;
            for id in ids {
                store.join(id, "everyone").await.expect("join");
            }
        }
        let sender = ids[0].clone();
        let addr = emulator.local_addr();
        IDS.get_or_init(Default::default)
            .lock()
            .unwrap()
            .insert(addr.to_string(), ids);

        let event = json!({
            "requestContext": {
                "routeKey": "fanout", "eventType": "MESSAGE", "messageDirection": "IN",
                "stage": "local", "connectedAt": 0, "requestTimeEpoch": 0,
                "requestId": "bench", "domainName": addr.to_string(), "connectionId": sender,
                "apiId": "local", "identity": {"sourceIp": "127.0.0.1"}
            },
            "body": r#"{"action":"fanout"}"#,
            "isBase64Encoded": false
        });
        let sdk_config = aws_sdk_apigatewaymanagement::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("local", "local", None, None, "bench"))
            .endpoint_url(emulator.management_endpoint())
            .build();
        let http =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_max_idle_per_host(256)
                .build_http();
        Setup {
            service: emulator.service().clone(),
            emulator,
            event,
            sdk: aws_sdk_apigatewaymanagement::Client::from_conf(sdk_config),
            http,
            payload: Bytes::from(json!({"type": "bench", "text": "hello, everyone"}).to_string()),
            child: std::sync::Mutex::new(child),
        }
    }

    fn ids(&self) -> &'static [String] {
        ids_of(&self.emulator.local_addr().to_string())
    }

    /// The same app as a service of its own with another broadcast concurrency, calling the
    /// emulator's Management API.
    fn service_with(&self, concurrency: usize) -> Service {
        App::new(bench_app::router())
            .management_endpoint(self.emulator.management_endpoint())
            .broadcast(BroadcastConfig {
                concurrency,
                ..BroadcastConfig::default()
            })
            .service()
    }

    /// `ctx.broadcast` inside a handler, as Lambda would run it.
    async fn lift(&self) {
        self.lift_on(&self.service).await;
    }

    /// `ctx.room("everyone").broadcast` inside a handler: the members come from the store.
    async fn lift_room(&self) {
        let mut event = self.event.clone();
        event["requestContext"]["routeKey"] = json!("fanout_room");
        event["body"] = json!(r#"{"action":"fanout_room"}"#);
        let invocation = Invocation {
            request_id: "bench".into(),
            deadline: Some(Instant::now() + Duration::from_secs(120)),
        };
        let response = self.service.handle_json(event, invocation).await;
        assert_eq!(response.status_code, 200);
    }

    async fn lift_on(&self, service: &Service) {
        let invocation = Invocation {
            request_id: "bench".into(),
            deadline: Some(Instant::now() + Duration::from_secs(120)),
        };
        let response = service.handle_json(self.event.clone(), invocation).await;
        assert_eq!(response.status_code, 200);
    }

    /// Baseline 1: the same SDK client in a sequential loop.
    async fn sdk_sequential(&self) {
        for id in self.ids() {
            self.sdk
                .post_to_connection()
                .connection_id(id)
                .data(Blob::new(self.payload.to_vec()))
                .send()
                .await
                .expect("post");
        }
    }

    /// Baseline 2 (the ceiling): unsigned HTTP POSTs with the same concurrency.
    async fn raw_concurrent(&self, concurrency: usize) {
        self.post_concurrently(concurrency, |_| {}).await;
    }

    /// Baseline 3: the POSTs of baseline 2 signed with SigV4 by `aws-sigv4` (the SDK's own
    /// signer, same credentials, region and service), without the SDK's orchestration.
    async fn signed_concurrent(&self, concurrency: usize) {
        use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
        use aws_sigv4::sign::v4;
        let identity: aws_smithy_runtime_api::client::identity::Identity =
            aws_credential_types::Credentials::new("local", "local", None, None, "bench").into();
        let host = self.emulator.local_addr().to_string();
        self.post_concurrently(concurrency, |request| {
            let params = v4::SigningParams::builder()
                .identity(&identity)
                .region("us-east-1")
                .name("execute-api")
                .time(std::time::SystemTime::now())
                .settings(SigningSettings::default())
                .build()
                .expect("signing params")
                .into();
            let uri = request.uri().to_string();
            let signable = SignableRequest::new(
                "POST",
                &uri,
                [("host", host.as_str())].into_iter(),
                SignableBody::Bytes(&self.payload),
            )
            .expect("signable");
            let (instructions, _) = sign(signable, &params).expect("signed").into_parts();
            instructions.apply_to_request_http1x(request);
        })
        .await;
    }

    /// POSTs the payload to every connection with hyper, `concurrency` at a time, each request
    /// passed through `prepare` first.
    async fn post_concurrently(
        &self,
        concurrency: usize,
        prepare: impl Fn(&mut hyper::Request<Full<Bytes>>),
    ) {
        let host = self.emulator.local_addr().to_string();
        let base = format!("http://{host}/local/@connections/");
        let sent = futures_util::stream::iter(self.ids())
            .map(|id| {
                let uri = format!("{base}{}", id.replace('=', "%3D"));
                let mut request = hyper::Request::post(uri)
                    .header("host", &host)
                    .body(Full::new(self.payload.clone()))
                    .expect("request");
                prepare(&mut request);
                let client = &self.http;
                async move {
                    let response = client.request(request).await.expect("post");
                    assert!(response.status().is_success());
                }
            })
            .buffer_unordered(concurrency)
            .count()
            .await;
        assert_eq!(sent, self.ids().len());
    }

    /// Closes the clients' stdin; they report how many frames they received.
    fn stop_clients(&self) -> usize {
        let mut child = self.child.lock().unwrap();
        drop(child.stdin.take());
        let mut line = String::new();
        if let Some(stdout) = child.stdout.as_mut() {
            let _ = BufReader::new(stdout).read_line(&mut line);
        }
        let _ = child.wait();
        line.trim().parse().unwrap_or(0)
    }
}

/// The child process: holds the WebSocket clients and counts the frames they receive.
fn clients_process(url: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let n = env_number("LIFT_BENCH_CONNECTIONS", 10_000);
    let received = Arc::new(AtomicUsize::new(0));
    runtime.block_on(async {
        let connected = futures_util::stream::iter(0..n)
            .map(|_| {
                let received = received.clone();
                async move {
                    let (ws, _) = tokio_tungstenite::connect_async(url)
                        .await
                        .expect("connect");
                    tokio::spawn(async move {
                        let (_sink, mut stream) = ws.split();
                        while let Some(Ok(_)) = stream.next().await {
                            received.fetch_add(1, Ordering::Relaxed);
                        }
                    });
                }
            })
            .buffer_unordered(256)
            .count()
            .await;
        assert_eq!(connected, n);
    });
    println!("ready");
    std::io::stdout().flush().expect("stdout");
    // Run until the parent closes our stdin.
    let mut sink = String::new();
    let _ = std::io::stdin().read_line(&mut sink);
    println!("{}", received.load(Ordering::Relaxed));
    std::io::stdout().flush().expect("stdout");
    drop(runtime);
}
