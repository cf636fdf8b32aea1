//! Fan-out at scale, simulated in one process: a room of N members in a `MemoryStore`, a
//! Management API sink that enforces a send rate (429 above it) and counts each connection's
//! deliveries, and the app's fan-out through the in-process queue: the broadcast hands the room
//! off, consumer invocations (with their deadlines) are fed batches from the queue, expand the
//! room from cursors and send, paced to their share of the rate.
//!
//! ```sh
//! cargo bench -p lift-benches --bench fanout        # LIFT_BENCH_FANOUT_MEMBERS, default 1,000,000
//! cargo run --release -p lift-benches --bin fanout -- --members 1000000 --rate 100000
//! ```
//!
//! Options: `--members N` (default 100,000), `--rate R` sends a second (default 100,000),
//! `--consumers C` (default 10), `--latency-ms L` of each Management API call (default 0).
//! It ends with one line, exactly:
//! `summary fanout: members=N delivered=N duplicates=D time/floor=R`, where the floor is N / R
//! seconds (members counts the room without the sender, who is left out of the broadcast).

use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use lift_runtime::fanout::{Deliver, FanoutQueue, LocalQueue, LocalQueueConfig};
use lift_runtime::settings::FanoutSettings;
use lift_runtime::store::{Connection, ConnectionStore, MemoryStore};
use lift_runtime::{App, ConnectionInfo, ManagementApi, SendError, Settings};
use serde_json::json;

#[lift_runtime::ws_app]
mod stadium {
    use lift_runtime::prelude::*;

    /// Broadcasts the body to the stadium, the sender left out.
    #[ws_route("cheer")]
    async fn cheer(ctx: &WsContext, body: String) -> WsResult {
        let report = ctx
            .room("stadium")
            .except(ctx.connection_id())
            .broadcast(&body)
            .await?;
        tracing::debug!(?report, "cheer");
        Ok(())
    }
}

/// The Management API: a token bucket at the rate (429 when empty), deliveries counted per
/// member (ids are `m{index}`).
struct Sink {
    deliveries: Vec<AtomicU8>,
    bucket: Mutex<(f64, Instant)>,
    rate: f64,
    burst: f64,
    latency: Duration,
    throttled: AtomicUsize,
    first: Mutex<Option<Instant>>,
    last: Mutex<Option<Instant>>,
}

impl Sink {
    fn new(members: usize, rate: f64, latency: Duration) -> Self {
        Sink {
            deliveries: (0..members).map(|_| AtomicU8::new(0)).collect(),
            // 20 ms of sends may come at once, as a real throttle's bucket allows.
            bucket: Mutex::new((rate / 50.0, Instant::now())),
            rate,
            burst: (rate / 50.0).max(1.0),
            latency,
            throttled: AtomicUsize::new(0),
            first: Mutex::new(None),
            last: Mutex::new(None),
        }
    }

    fn take_token(&self) -> bool {
        let mut bucket = self.bucket.lock().unwrap();
        let now = Instant::now();
        let (tokens, at) = *bucket;
        let tokens = (tokens + now.duration_since(at).as_secs_f64() * self.rate).min(self.burst);
        if tokens >= 1.0 {
            *bucket = (tokens - 1.0, now);
            true
        } else {
            *bucket = (tokens, now);
            false
        }
    }
}

#[async_trait]
impl ManagementApi for Sink {
    fn endpoint(&self) -> &str {
        "sink"
    }

    async fn post(&self, connection_id: &str, _data: &[u8]) -> Result<(), SendError> {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        if !self.take_token() {
            self.throttled.fetch_add(1, Ordering::Relaxed);
            return Err(SendError::Throttled {
                endpoint: "sink".into(),
            });
        }
        let index: usize = connection_id[1..].parse().expect("member ids are m{index}");
        self.deliveries[index].fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        self.first.lock().unwrap().get_or_insert(now);
        *self.last.lock().unwrap() = Some(now);
        Ok(())
    }

    async fn delete(&self, _connection_id: &str) -> Result<(), SendError> {
        Ok(())
    }

    async fn info(&self, _connection_id: &str) -> Result<ConnectionInfo, SendError> {
        Err(SendError::Failed {
            endpoint: "sink".into(),
            message: "not simulated".into(),
        })
    }
}

/// The in-process queue, timed: time spent queuing records, and in consumer invocations.
#[derive(Clone)]
struct TimedQueue {
    queue: LocalQueue,
    enqueue_ns: Arc<AtomicU64>,
    records: Arc<AtomicUsize>,
    consume_ns: Arc<AtomicU64>,
    batches: Arc<AtomicUsize>,
}

#[async_trait]
impl FanoutQueue for TimedQueue {
    async fn enqueue(&self, records: Vec<String>) -> Result<(), lift_runtime::Error> {
        let started = Instant::now();
        self.records.fetch_add(records.len(), Ordering::Relaxed);
        let result = self.queue.enqueue(records).await;
        self.enqueue_ns
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        result
    }

    fn deliver(&self, deliver: Deliver) -> Option<tokio::task::JoinHandle<()>> {
        let timed = self.clone();
        let wrapped: Deliver = Arc::new(move |event, deadline| {
            let deliver = deliver.clone();
            let timed = timed.clone();
            Box::pin(async move {
                let started = Instant::now();
                let response = deliver(event, deadline).await;
                timed
                    .consume_ns
                    .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
                timed.batches.fetch_add(1, Ordering::Relaxed);
                response
            })
        });
        self.queue.deliver(wrapped)
    }
}

/// What to simulate.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Members of the room (default 100,000).
    pub members: usize,
    /// Sends a second the Management API takes before it answers 429 (default 100,000).
    pub rate: u32,
    /// Consumer invocations at once (default 10).
    pub consumers: u32,
    /// The latency of each Management API call, ms (default 0).
    pub latency_ms: u64,
}

/// Options from command-line arguments (`--members N --rate R --consumers C --latency-ms L`).
///
/// # Errors
///
/// An unknown option or a value that is not a number.
pub fn options(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        members: 100_000,
        rate: 100_000,
        consumers: 10,
        latency_ms: 0,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or(format!("{arg} needs a value"))?
                .parse::<u64>()
                .map_err(|_| format!("{arg} takes a number"))
        };
        match arg.as_str() {
            "--members" => options.members = value()? as usize,
            "--rate" => options.rate = value()? as u32,
            "--consumers" => options.consumers = value()? as u32,
            "--latency-ms" => options.latency_ms = value()?,
            other => {
                return Err(format!(
                    "unknown option {other}: use --members N --rate R --consumers C --latency-ms L"
                ))
            }
        }
    }
    Ok(options)
}

fn message_event() -> serde_json::Value {
    json!({
        "requestContext": {
            "routeKey": "cheer", "eventType": "MESSAGE", "messageDirection": "IN",
            "stage": "prod", "connectedAt": 1_700_000_000_000_i64, "requestTimeEpoch": 0,
            "requestId": "bench", "domainName": "abc.execute-api.eu-west-1.amazonaws.com",
            "connectionId": "sender", "apiId": "abc", "messageId": "m",
            "identity": {"sourceIp": "127.0.0.1"}
        },
        "body": "{\"action\":\"cheer\",\"goal\":true}",
        "isBase64Encoded": false
    })
}

/// Runs the simulation and returns its summary line.
///
/// # Errors
///
/// When the app's service does not start or the store fails.
pub async fn run(options: Options) -> Result<String, lift_runtime::Error> {
    let n = options.members;
    eprintln!("filling a room of {n} members...");
    let store = MemoryStore::new();
    let now = SystemTime::now();
    for index in 0..n {
        let id = format!("m{index}");
        store.save(&Connection::new(&id, now)).await?;
        store.join(&id, "stadium").await?;
    }
    store.save(&Connection::new("sender", now)).await?;
    store.join("sender", "stadium").await?;

    let sink = Arc::new(Sink::new(
        n,
        f64::from(options.rate),
        Duration::from_millis(options.latency_ms),
    ));
    let queue = TimedQueue {
        queue: LocalQueue::with_config(LocalQueueConfig {
            consumers: options.consumers as usize,
            ..LocalQueueConfig::default()
        }),
        enqueue_ns: Arc::default(),
        records: Arc::default(),
        consume_ns: Arc::default(),
        batches: Arc::default(),
    };
    let api = sink.clone();
    let service = App::new(stadium::router())
        .store(store)
        .management_api(move |_| api.clone())
        .settings(Settings {
            fanout: FanoutSettings {
                rate: options.rate,
                consumers: options.consumers,
                ..FanoutSettings::default()
            },
            ..Settings::default()
        })
        .fanout_queue(queue.clone())
        .service()
        .await
        .expect("the app\'s service");
    let delivery = lift_tests::deliver(&queue, &service);

    eprintln!(
        "broadcasting to {n} members at {} sends/s over {} consumers...",
        options.rate, options.consumers
    );
    let started = Instant::now();
    let response = lift_tests::handle_json(&service, message_event()).await;
    let handoff = started.elapsed();
    assert_eq!(response.status_code, 200, "{response:?}");
    let drained = queue.queue.drained(Duration::from_secs(3_600)).await;
    let elapsed = sink
        .last
        .lock()
        .unwrap()
        .map_or(started.elapsed(), |last| last - started);
    delivery.abort();

    let (mut delivered, mut duplicates) = (0usize, 0usize);
    for count in &sink.deliveries {
        let count = usize::from(count.load(Ordering::Relaxed));
        delivered += usize::from(count > 0);
        duplicates += count.saturating_sub(1);
    }
    let floor = n as f64 / f64::from(options.rate);
    let ms = |ns: &AtomicU64| ns.load(Ordering::Relaxed) as f64 / 1e6;
    eprintln!(
        "the broadcast's own invocation: {:.1} ms; first delivery after {:.1} ms; queue drained: {drained}",
        handoff.as_secs_f64() * 1e3,
        sink.first
            .lock()
            .unwrap()
            .map_or(0.0, |first| (first - started).as_secs_f64() * 1e3),
    );
    eprintln!(
        "records queued: {}, in {:.1} ms of enqueue calls; consumer invocations: {}, {:.0} ms in all \
         ({:.0}% of {} consumers × {:.2} s); 429s: {}",
        queue.records.load(Ordering::Relaxed),
        ms(&queue.enqueue_ns),
        queue.batches.load(Ordering::Relaxed),
        ms(&queue.consume_ns),
        100.0 * ms(&queue.consume_ns) / 1e3 / (f64::from(options.consumers) * elapsed.as_secs_f64()),
        options.consumers,
        elapsed.as_secs_f64(),
        sink.throttled.load(Ordering::Relaxed),
    );
    Ok(format!(
        "summary fanout: members={n} delivered={delivered} duplicates={duplicates} time/floor={:.2}",
        elapsed.as_secs_f64() / floor
    ))
}
