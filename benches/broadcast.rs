//! Broadcast to thousands of WebSocket connections through the Management API, against
//! baselines measured in the same run, same emulator, same clients:
//!
//! - `sdk_sequential`: `aws-sdk-apigatewaymanagement` with exactly lift's client settings (SDK
//!   retries off), one `PostToConnection` after another (the pattern of today's frameworks);
//! - `sdk_concurrent`: the same SDK client at lift's concurrency (what lift adds on top of the
//!   SDK, or saves);
//! - `signed_http_concurrent`: the POSTs signed with SigV4 by `aws-sigv4` and sent with hyper at
//!   lift's concurrency (the floor for a signed sender);
//! - `raw_http_concurrent`: the same POSTs unsigned (the ceiling of this machine and emulator).
//!
//! `lift` is `ctx.broadcast(ids, &msg)` inside a handler, through the service Lambda runs (its
//! default Management API client: hyper, signed by `aws-sigv4`); `lift_room` broadcasts to a
//! room holding every connection, read from the store 100 members a page.
//!
//! The emulator and the WebSocket clients run in processes of their own (as API Gateway and the
//! clients are elsewhere in AWS); the sender is this process. The clients count the frames they
//! receive, and each group fails unless they received exactly the messages the senders
//! reported sent.
//!
//! ```sh
//! cargo bench -p lift-benches --bench broadcast
//! LIFT_BENCH_CONNECTIONS=1000 cargo bench -p lift-benches --bench broadcast   # quicker
//! ```
//!
//! Groups: `loopback` (10,000 connections, `LIFT_BENCH_CONNECTIONS`), `rtt_2ms_1k` and
//! `rtt_2ms_10k` (the emulator answers every Management API call 2 ms late, a stand-in for the
//! network between a Lambda function and API Gateway; 1,000 connections,
//! `LIFT_BENCH_RTT_CONNECTIONS`, and 10,000), and `own_core` (loopback, with this process pinned
//! to core 0 and the emulator and clients to core 1, as a Lambda function has its core to
//! itself). Each group ends with one line in this form, to compare runs:
//!
//! `summary GROUP: lift/ceiling=R lift/sequential=R cpu_lift/cpu_signed=R delivered=N/N`
//!
//! lift/ceiling (and the quota groups' lift/signed) is the median of 21 rounds in which lift and
//! the baseline take turns (`rounds.rs`), printed with the rounds' range and criterion's ratio of
//! means above it; lift/sequential is criterion's (50 times apart, it does not move).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_apigatewaymanagement::primitives::Blob;
use criterion::{Criterion, SamplingMode, Throughput};
use futures_util::StreamExt;
use http_body_util::Full;
use hyper::body::Bytes;
use lift_runtime::settings::{BroadcastSettings, LocalSettings};
use lift_runtime::testing::TestApp;
use lift_runtime::{App, Service, Settings};
use serde_json::json;

mod quota;
mod rounds;
mod tls_group;
use quota::quota_group;
use rounds::{interleaved, Rounds};
use tls_group::tls_group;

/// The connections of the current group.
static IDS: OnceLock<Mutex<&'static [String]>> = OnceLock::new();

/// Messages the senders of this process reported sent (lift's reports, the baselines' 2xx).
static SENT: AtomicUsize = AtomicUsize::new(0);

fn ids() -> &'static [String] {
    *IDS.get_or_init(|| Mutex::new(&[])).lock().unwrap()
}

#[lift_runtime::ws_app]
mod bench_app {
    use lift_runtime::prelude::*;
    use std::sync::atomic::Ordering;

    /// Broadcasts one small message to every benchmark connection.
    #[ws_route("fanout", reply)]
    async fn fanout(ctx: &WsContext) -> WsResult<Reply> {
        let ids = super::ids();
        let report = ctx
            .broadcast(
                ids,
                &serde_json::json!({"type": "bench", "text": "hello, everyone"}),
            )
            .await?;
        super::SENT.fetch_add(report.sent, Ordering::Relaxed);
        assert_eq!(report.sent, ids.len(), "{report:?}");
        Ok(Reply::text(report.sent.to_string()))
    }

    /// Broadcasts one small message to the room every benchmark connection joined.
    #[ws_route("fanout_room", reply)]
    async fn fanout_room(ctx: &WsContext) -> WsResult<Reply> {
        let report = ctx
            .room("everyone")
            .broadcast(&serde_json::json!({"type": "bench", "text": "hello, everyone"}))
            .await?;
        super::SENT.fetch_add(report.sent, Ordering::Relaxed);
        assert_eq!(report.sent, super::ids().len(), "{report:?}");
        Ok(Reply::text(report.sent.to_string()))
    }
}

/// The child's app: it only needs connections kept (the senders are in the parent).
#[lift_runtime::ws_app]
mod sink_app {
    use lift_runtime::prelude::*;

    #[ws_default]
    async fn ignore() -> WsResult {
        Ok(())
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// A group: its name, connections, Management API latency, whether the sender and the
/// rest get a core each, and the CPU quota of the sender (a Lambda memory size in MB and the
/// share of a vCPU it buys).
struct Group {
    name: &'static str,
    connections: usize,
    latency: Duration,
    own_core: bool,
    quota: Option<(u32, f64)>,
    /// The Management API over HTTPS (the emulator behind a TLS front).
    tls: bool,
}

/// Lambda's memory sizes and the share of a vCPU each buys (1,769 MB buys one vCPU; the share
/// is proportional below it).
const QUOTAS: [(&str, u32, f64); 3] = [
    ("quota_128", 128, 0.072),
    ("quota_512", 512, 0.29),
    ("quota_1769", 1769, 1.0),
];

fn main() {
    match std::env::var("LIFT_BENCH_ROLE").as_deref() {
        Ok("emulator") => return emulator_process(),
        Ok("clients") => return clients_process(),
        _ => {}
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
    let many = env_number("LIFT_BENCH_CONNECTIONS", 10_000);
    let few = env_number("LIFT_BENCH_RTT_CONNECTIONS", 1_000);
    let quota_connections = env_number("LIFT_BENCH_QUOTA_CONNECTIONS", 1_000);
    let two_cores = std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2;
    let groups = [
        Group {
            name: "loopback",
            connections: many,
            latency: Duration::ZERO,
            own_core: false,
            quota: None,
            tls: false,
        },
        Group {
            name: "rtt_2ms_1k",
            connections: few,
            latency: Duration::from_millis(2),
            own_core: false,
            quota: None,
            tls: false,
        },
        Group {
            name: "rtt_2ms_10k",
            connections: many,
            latency: Duration::from_millis(2),
            own_core: false,
            quota: None,
            tls: false,
        },
        Group {
            name: "own_core",
            connections: many,
            latency: Duration::ZERO,
            own_core: two_cores,
            quota: None,
            tls: false,
        },
    ]
    .into_iter()
    .chain(QUOTAS.map(|(name, mb, share)| Group {
        name,
        connections: quota_connections,
        latency: Duration::from_millis(2),
        own_core: false,
        quota: Some((mb, share)),
        tls: false,
    }))
    .chain([Group {
        name: "tls",
        connections: many,
        latency: Duration::ZERO,
        own_core: false,
        quota: None,
        tls: true,
    }])
    // `LIFT_BENCH_GROUPS=loopback,quota_128` runs only those groups.
    .filter(|group| {
        std::env::var("LIFT_BENCH_GROUPS").map_or(true, |only| {
            only.split(',').any(|name| name.trim() == group.name)
        })
    });
    let concurrency = BroadcastSettings::default().concurrency;
    for group_spec in groups {
        let name = group_spec.name;
        if group_spec.own_core {
            pin_process(Some(0));
        }
        let setup = runtime.block_on(Setup::start(&group_spec));
        if let Some((mb, share)) = group_spec.quota {
            quota_group(&mut criterion, &runtime, setup, name, mb, share, started);
            continue;
        }
        if group_spec.tls {
            tls_group(&mut criterion, &runtime, setup, name, started);
            continue;
        }
        let sent_before = SENT.load(Ordering::Relaxed);
        let received_before = setup.received();
        let mut group = criterion.benchmark_group(name);
        group.sampling_mode(SamplingMode::Flat);
        if group_spec.own_core {
            // Its ratios moved most from run to run (0.77 and 1.02 minutes apart): twice the
            // measurement for each figure.
            group.measurement_time(Duration::from_secs(10));
        }
        group.throughput(Throughput::Elements(group_spec.connections as u64));
        group.bench_function("lift", |b| b.to_async(&runtime).iter(|| setup.lift()));
        group.bench_function("lift_room", |b| {
            b.to_async(&runtime).iter(|| setup.lift_room())
        });
        group.bench_function("sdk_sequential", |b| {
            b.to_async(&runtime).iter(|| setup.sdk_concurrent(1))
        });
        group.bench_function("sdk_concurrent", |b| {
            b.to_async(&runtime)
                .iter(|| setup.sdk_concurrent(concurrency))
        });
        group.bench_function("signed_http_concurrent", |b| {
            b.to_async(&runtime)
                .iter(|| setup.http_concurrent(concurrency, true))
        });
        group.bench_function("raw_http_concurrent", |b| {
            b.to_async(&runtime)
                .iter(|| setup.http_concurrent(concurrency, false))
        });
        group.finish();
        let ceiling = interleaved(
            &runtime,
            || setup.lift(),
            || setup.http_concurrent(concurrency, false),
        );
        // What signing alone costs against the ceiling, measured the same way: lift's bound.
        interleaved(
            &runtime,
            || setup.http_concurrent(concurrency, true),
            || setup.http_concurrent(concurrency, false),
        )
        .print_as(name, "signed/ceiling");
        let costs = cpu_costs(&runtime, &setup, concurrency);
        let sent = SENT.load(Ordering::Relaxed) - sent_before;
        let received = setup.received_at_least(received_before + sent) - received_before;
        setup.stop();
        if group_spec.own_core {
            pin_process(None);
        }
        report(
            name,
            group_spec.connections,
            started,
            &costs,
            &ceiling,
            (sent, received),
        );
        assert_eq!(
            received, sent,
            "{name}: the clients received {received} frames, the senders reported {sent} sent"
        );
    }
    criterion.final_summary();
}

/// CPU spent per message by the thread that sends (the one polling the broadcast: signing,
/// request building and, for the SDK, its orchestration run there; the HTTP connections' own
/// tasks run on the runtime's workers) and by this whole process (sender and HTTP
/// connections; the emulator and the clients are in the child process).
#[derive(Debug)]
struct Cost {
    name: &'static str,
    sender_us: f64,
    process_us: f64,
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
        cost_of(runtime, "lift", || setup.lift()),
        cost_of(runtime, "sdk_concurrent", || {
            setup.sdk_concurrent(concurrency)
        }),
        cost_of(runtime, "signed_http_concurrent", || {
            setup.http_concurrent(concurrency, true)
        }),
        cost_of(runtime, "raw_http_concurrent", || {
            setup.http_concurrent(concurrency, false)
        }),
    ]
}

fn cost_of<F: std::future::Future<Output = ()>>(
    runtime: &tokio::runtime::Runtime,
    name: &'static str,
    run: impl Fn() -> F,
) -> Cost {
    const ROUNDS: u32 = 3;
    runtime.block_on(run()); // warm
    let thread = cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID);
    let process = cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID);
    for _ in 0..ROUNDS {
        runtime.block_on(run());
    }
    let per_message =
        |d: Duration| d.as_secs_f64() * 1e6 / (ids().len() as f64 * f64::from(ROUNDS));
    Cost {
        name,
        sender_us: per_message(cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID) - thread),
        process_us: per_message(cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID) - process),
    }
}

/// Prints the group's figures and its summary line: lift/ceiling from the interleaved rounds
/// (criterion's ratio printed above it), lift/sequential from criterion's estimates of this run.
fn report(
    group: &str,
    n: usize,
    started: std::time::SystemTime,
    costs: &[Cost],
    ceiling: &Rounds,
    (sent, received): (usize, usize),
) {
    let mean_ns = |name: &str| mean_ns(group, name, started);
    println!("{group}: CPU per message (µs): sending thread / this process (sender side only)");
    for cost in costs {
        println!(
            "  {:<24} {:>8.1} / {:>8.1}",
            cost.name, cost.sender_us, cost.process_us
        );
    }
    let cpu = |name: &str| costs.iter().find(|c| c.name == name).map(|c| c.sender_us);
    let cpu_ratio = match (cpu("lift"), cpu("signed_http_concurrent")) {
        (Some(lift), Some(signed)) => format!("{:.2}", lift / signed),
        _ => "n/a".to_owned(),
    };
    let kinds = [
        "lift",
        "lift_room",
        "sdk_sequential",
        "sdk_concurrent",
        "signed_http_concurrent",
        "raw_http_concurrent",
    ];
    let times: Vec<(&str, f64)> = kinds
        .iter()
        .filter_map(|kind| mean_ns(kind).map(|ns| (*kind, ns)))
        .collect();
    if !times.is_empty() {
        println!("{group}: messages per second, {n} connections:");
        for (kind, ns) in &times {
            println!("  {kind:<24} {:>10.0}", n as f64 / (ns / 1e9));
        }
    }
    let time = |kind: &str| times.iter().find(|(k, _)| *k == kind).map(|(_, ns)| *ns);
    let ratio = |base: &str, inverse: bool| match (time("lift"), time(base)) {
        (Some(lift), Some(other)) if inverse => format!("{:.2}", other / lift),
        _ => "n/a".to_owned(),
    };
    println!(
        "{group} criterion: lift/ceiling={} (the means, measured one after the other)",
        ratio("raw_http_concurrent", true)
    );
    ceiling.print(group, "ceiling");
    println!(
        "summary {group}: lift/ceiling={:.2} lift/sequential={} cpu_lift/cpu_signed={cpu_ratio} delivered={received}/{sent}",
        ceiling.median,
        ratio("sdk_sequential", true),
    );
}

/// The mean time of benchmark `name` of `group`, from criterion's estimates, if this run (begun
/// at `started`) wrote them.
fn mean_ns(group: &str, name: &str, started: std::time::SystemTime) -> Option<f64> {
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
}

/// Pins every thread of this process to `core`, or lets them run anywhere again.
fn pin_process(core: Option<usize>) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return;
    };
    for task in tasks.flatten() {
        let Some(tid) = task
            .file_name()
            .to_str()
            .and_then(|t| t.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes within it, and
        // sched_setaffinity only reads it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            match core {
                Some(core) => libc::CPU_SET(core, &mut set),
                None => (0..cores).for_each(|c| libc::CPU_SET(c, &mut set)),
            }
            libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set);
        }
    }
}

struct Setup {
    service: Service,
    event: serde_json::Value,
    /// The SDK client as lift's own client behaves (the SDK's retries off: lift retries itself).
    sdk: aws_sdk_apigatewaymanagement::Client,
    http: hyper_util::client::legacy::Client<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        Full<Bytes>,
    >,
    /// `http://HOST:PORT`, or `https://localhost:PORT` (the TLS front) in the `tls` group.
    base: String,
    /// The host the baselines sign and send in `Host`.
    host: String,
    payload: Bytes,
    /// The WebSocket clients' process, answering `count`.
    clients: Mutex<Helper>,
    /// The emulator's process (answering each line with its TLS front's handshakes).
    emulator: Mutex<Helper>,
}

/// A child process of the benchmark, spoken to by lines.
struct Helper {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Helper {
    /// Starts this benchmark's binary in `role`, with `env`, pinned to core 1 if `own_core`.
    fn spawn(role: &str, env: &[(&str, String)], own_core: bool) -> Helper {
        let mut command = Command::new(std::env::current_exe().expect("own path"));
        command
            .env("LIFT_BENCH_ROLE", role)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        if own_core {
            command.env("LIFT_BENCH_CORE", "1");
        }
        let mut child = command.spawn().expect("a helper process");
        Helper {
            stdin: child.stdin.take().expect("stdin"),
            stdout: BufReader::new(child.stdout.take().expect("stdout")),
            child,
        }
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .expect("a line from a helper");
        line.trim().to_owned()
    }

    fn ask(&mut self, question: &str) -> String {
        writeln!(self.stdin, "{question}").expect("a helper's stdin");
        self.stdin.flush().expect("a helper's stdin");
        self.line()
    }

    fn stop(self) {
        let Helper {
            mut child, stdin, ..
        } = self;
        drop(stdin);
        let _ = child.wait();
    }
}

impl Setup {
    async fn start(spec: &Group) -> Setup {
        let n = spec.connections;
        // The emulator and the clients, each in a process of its own (one process cannot hold
        // both ends of 10,000 sockets within this machine's limit of 20,000 files).
        let latency = (
            "LIFT_BENCH_LATENCY_US",
            spec.latency.as_micros().to_string(),
        );
        let connections = ("LIFT_BENCH_CONNECTIONS", n.to_string());
        let tls = ("LIFT_BENCH_TLS", u8::from(spec.tls).to_string());
        let mut emulator = Helper::spawn(
            "emulator",
            &[latency, connections.clone(), tls],
            spec.own_core,
        );
        // `ready HOST:PORT`, and with TLS the front's port and its CA's PEM file.
        let ready = emulator.line();
        let mut words = ready
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("the emulator process failed: {ready:?}"))
            .split(' ')
            .map(str::to_owned);
        let host = words.next().expect("the emulator's address");
        let front = words.next().map(|port| {
            let ca_file = std::path::PathBuf::from(words.next().expect("the CA file"));
            (format!("localhost:{port}"), ca_file)
        });
        let url = ("LIFT_BENCH_URL", format!("ws://{host}"));
        let mut clients = Helper::spawn("clients", &[url, connections], spec.own_core);
        assert_eq!(clients.line(), "ready", "the clients process failed");
        let mut list = Vec::with_capacity(n);
        loop {
            match emulator.line() {
                end if end == "end" => break,
                id => list.push(id),
            }
        }
        assert_eq!(list.len(), n, "every client connected");
        let list: &'static [String] = Vec::leak(list);
        *IDS.get_or_init(|| Mutex::new(&[])).lock().unwrap() = list;

        let store = lift_runtime::store::MemoryStore::new();
        {
            // The sender's own store (the child's emulator keeps its own): every connection,
            // in one room.
            use lift_runtime::store::{Connection, ConnectionStore};
            let now = std::time::SystemTime::now();
            for id in list {
                store.save(&Connection::new(id, now)).await.expect("save");
                store.join(id, "everyone").await.expect("join");
            }
        }
        // The endpoint comes from the event's domain, as in Lambda (a loopback one is http);
        // with TLS, it is the front, trusted through its CA file.
        let settings = match &front {
            Some((front_host, ca_file)) => Settings {
                management_endpoint: Some(format!("https://{front_host}/local")),
                management_ca_file: Some(ca_file.clone()),
                ..Settings::default()
            },
            None => Settings::default(),
        };
        let service = App::new(bench_app::router())
            .store(store)
            .settings(settings)
            .service()
            .await
            .expect("the app\'s service");
        let event = json!({
            "requestContext": {
                "routeKey": "fanout", "eventType": "MESSAGE", "messageDirection": "IN",
                "stage": "local", "connectedAt": 0, "requestTimeEpoch": 0,
                "requestId": "bench", "domainName": host, "connectionId": list[0],
                "apiId": "local", "identity": {"sourceIp": "127.0.0.1"}
            },
            "body": r#"{"action":"fanout"}"#,
            "isBase64Encoded": false
        });
        let config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new("local", "local", None, None, "bench"),
                ),
            )
            .build();
        let sdk = aws_sdk_apigatewaymanagement::Client::from_conf(
            aws_sdk_apigatewaymanagement::Config::from(&config)
                .to_builder()
                .endpoint_url(format!("http://{host}/local"))
                .retry_config(aws_sdk_apigatewaymanagement::config::retry::RetryConfig::disabled())
                .build(),
        );
        // The baselines' client: the same TLS stack as lift's (rustls on aws-lc-rs), trusting
        // the front's CA; plain HTTP outside the `tls` group.
        let mut roots = rustls::RootCertStore::empty();
        if let Some((_, ca_file)) = &front {
            use rustls::pki_types::{pem::PemObject, CertificateDer};
            for cert in CertificateDer::pem_file_iter(ca_file).expect("the CA file") {
                roots.add(cert.expect("a certificate")).expect("a root");
            }
        }
        let tls_config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config)
            .https_or_http()
            .enable_http1()
            .build();
        let http =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_max_idle_per_host(256)
                .build(connector);
        let (base, sign_host) = match &front {
            Some((front_host, _)) => (format!("https://{front_host}"), front_host.clone()),
            None => (format!("http://{host}"), host.clone()),
        };
        Setup {
            service,
            event,
            sdk,
            http,
            base,
            host: sign_host,
            payload: Bytes::from(json!({"type": "bench", "text": "hello, everyone"}).to_string()),
            clients: Mutex::new(clients),
            emulator: Mutex::new(emulator),
        }
    }

    /// `ctx.broadcast` inside a handler, as Lambda would run it.
    async fn lift(&self) {
        self.handle(self.event.clone()).await;
    }

    /// `ctx.room("everyone").broadcast` inside a handler: the members come from the store.
    async fn lift_room(&self) {
        let mut event = self.event.clone();
        event["requestContext"]["routeKey"] = json!("fanout_room");
        event["body"] = json!(r#"{"action":"fanout_room"}"#);
        self.handle(event).await;
    }

    async fn handle(&self, event: serde_json::Value) {
        let deadline = Some(Instant::now() + Duration::from_secs(300));
        let response = lift_tests::invoke(&self.service, event, "bench", deadline).await;
        assert_eq!(response.status_code, 200);
    }

    /// Baselines `sdk_sequential` (1) and `sdk_concurrent`: the SDK client, `concurrency` at a
    /// time.
    async fn sdk_concurrent(&self, concurrency: usize) {
        let sent = futures_util::stream::iter(ids())
            .map(|id| async move {
                self.sdk
                    .post_to_connection()
                    .connection_id(id)
                    .data(Blob::new(self.payload.to_vec()))
                    .send()
                    .await
                    .expect("post");
            })
            .buffer_unordered(concurrency)
            .count()
            .await;
        SENT.fetch_add(sent, Ordering::Relaxed);
    }

    /// Baselines `signed_http_concurrent` and `raw_http_concurrent`: hyper POSTs, signed with
    /// SigV4 by `aws-sigv4` (same credentials, region and service as lift) or not.
    async fn http_concurrent(&self, concurrency: usize, signed: bool) {
        use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
        use aws_sigv4::sign::v4;
        let identity: aws_smithy_runtime_api::client::identity::Identity =
            aws_credential_types::Credentials::new("local", "local", None, None, "bench").into();
        let host = self.host.as_str();
        let base = format!("{}/local/@connections/", self.base);
        let sent = futures_util::stream::iter(ids())
            .map(|id| {
                let uri = format!("{base}{}", id.replace('=', "%3D"));
                let mut request = hyper::Request::post(&uri)
                    .header("host", host)
                    .body(Full::new(self.payload.clone()))
                    .expect("request");
                if signed {
                    let params = v4::SigningParams::builder()
                        .identity(&identity)
                        .region("us-east-1")
                        .name("execute-api")
                        .time(std::time::SystemTime::now())
                        .settings(SigningSettings::default())
                        .build()
                        .expect("signing params")
                        .into();
                    let signable = SignableRequest::new(
                        "POST",
                        &uri,
                        [("host", host)].into_iter(),
                        SignableBody::Bytes(&self.payload),
                    )
                    .expect("signable");
                    let (instructions, _) = sign(signable, &params).expect("signed").into_parts();
                    instructions.apply_to_request_http1x(&mut request);
                }
                let client = &self.http;
                async move {
                    let response = client.request(request).await.expect("post");
                    assert!(response.status().is_success(), "{}", response.status());
                }
            })
            .buffer_unordered(concurrency)
            .count()
            .await;
        SENT.fetch_add(sent, Ordering::Relaxed);
    }

    /// TLS handshakes the emulator's front has completed so far (0 without TLS).
    fn handshakes(&self) -> usize {
        let answer = self.emulator.lock().unwrap().ask("handshakes");
        answer.parse().expect("a count")
    }

    /// How many frames the clients have received so far.
    fn received(&self) -> usize {
        let answer = self.clients.lock().unwrap().ask("count");
        answer.parse().expect("a count")
    }

    /// The clients' count once it reaches `expected` (frames still on their way), or what it
    /// is after 10 s.
    fn received_at_least(&self, expected: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let received = self.received();
            if received >= expected || Instant::now() > deadline {
                return received;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Ends the helper processes.
    fn stop(self) {
        self.clients.into_inner().unwrap().stop();
        self.emulator.into_inner().unwrap().stop();
    }
}

/// The emulator's process: prints `ready HOST:PORT`, then, once
/// `LIFT_BENCH_CONNECTIONS` clients are connected, their ids and `end`; runs until its input
/// ends.
fn emulator_process() {
    if let Ok(core) = std::env::var("LIFT_BENCH_CORE") {
        pin_process(Some(core.parse().expect("a core")));
    }
    let n = env_number("LIFT_BENCH_CONNECTIONS", 0);
    let latency = Duration::from_micros(env_number("LIFT_BENCH_LATENCY_US", 0) as u64);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let emulator = runtime.block_on(async {
        // Unsigned requests (the raw ceiling) must pass: signatures are checked in the tests.
        let settings = Settings {
            local: LocalSettings {
                addr: "127.0.0.1:0".parse().unwrap(),
                management_latency: latency,
                check_signatures: false,
                ..LocalSettings::default()
            },
            ..Settings::default()
        };
        TestApp::start(App::new(sink_app::router()).settings(settings)).await
    });
    let mut out = std::io::stdout().lock();
    let addr = emulator.url().trim_start_matches("ws://").to_owned();
    // With LIFT_BENCH_TLS=1, a TLS front (a CA and a certificate made now) in front of it.
    let front = (env_number("LIFT_BENCH_TLS", 0) == 1).then(|| {
        runtime.block_on(lift_tests::tls::TlsFront::start(
            addr.parse().expect("an address"),
        ))
    });
    match &front {
        Some(front) => writeln!(
            out,
            "ready {addr} {} {}",
            front.addr().port(),
            front.ca_file().display()
        ),
        None => writeln!(out, "ready {addr}"),
    }
    .expect("stdout");
    out.flush().expect("stdout");
    let deadline = Instant::now() + Duration::from_secs(180);
    while emulator.connection_ids().len() < n {
        assert!(Instant::now() < deadline, "the clients did not all connect");
        std::thread::sleep(Duration::from_millis(50));
    }
    for id in emulator.connection_ids() {
        writeln!(out, "{id}").expect("stdout");
    }
    writeln!(out, "end").expect("stdout");
    out.flush().expect("stdout");
    // Each line asks for the TLS handshakes the front has completed so far.
    for line in std::io::stdin().lock().lines() {
        if line.is_err() {
            break;
        }
        let handshakes = front.as_ref().map_or(0, |front| front.handshakes());
        writeln!(out, "{handshakes}").expect("stdout");
        out.flush().expect("stdout");
    }
    drop(front);
    drop(emulator);
    drop(runtime);
}

/// The clients' process: `LIFT_BENCH_CONNECTIONS` WebSocket clients of `LIFT_BENCH_URL`,
/// counting the frames they receive. Prints `ready` once all are connected, then answers each
/// `count` line on its input with the frames received so far, until the input ends.
fn clients_process() {
    if let Ok(core) = std::env::var("LIFT_BENCH_CORE") {
        pin_process(Some(core.parse().expect("a core")));
    }
    let n = env_number("LIFT_BENCH_CONNECTIONS", 0);
    let url = std::env::var("LIFT_BENCH_URL").expect("LIFT_BENCH_URL");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let received = Arc::new(AtomicUsize::new(0));
    runtime.block_on(async {
        let connected = futures_util::stream::iter(0..n)
            .map(|_| {
                let received = received.clone();
                let url = url.clone();
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
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready").expect("stdout");
    out.flush().expect("stdout");
    for line in std::io::stdin().lock().lines() {
        if line.is_err() {
            break;
        }
        writeln!(out, "{}", received.load(Ordering::Relaxed)).expect("stdout");
        out.flush().expect("stdout");
    }
    drop(runtime);
}
