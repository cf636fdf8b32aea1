//! Observability middleware and logs: [`Metrics`] (CloudWatch Embedded Metric Format),
//! [`RateLimit`] (a token bucket per connection), and [`lambda_subscriber`], the log
//! subscriber [`App::run`](crate::App::run) installs in Lambda.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::context::WsContext;
use crate::error::WsError;
use crate::middleware::{Middleware, Next};
use crate::route_key::RouteKey;
use crate::router::{BoxFuture, HandlerResult};

type Sink = Arc<Mutex<Box<dyn Write + Send>>>;

/// Writes one CloudWatch [Embedded Metric Format] line per event, synchronously as the event
/// ends (no background task), each metric with the dimension `Route` and without dimensions
/// (across routes, what the deployment template's alarms watch). In Lambda, stdout goes to
/// CloudWatch Logs, which turns the lines into metrics.
///
/// | metric | unit | per event |
/// |---|---|---|
/// | `Events` | Count | 1 |
/// | `Latency` | Milliseconds | the middleware chain and handler, end to end |
/// | `MessageSize` | Bytes | the message body (0 for `$connect`/`$disconnect`) |
/// | `Errors` | Count | 1 when the handler (or a middleware) returned an error |
/// | `StoreErrors` | Count | 1 when that error was a failed store request |
/// | `MessagesDelivered` | Count | messages the event's sends and broadcasts delivered |
/// | `ConnectionsGone` | Count | recipients found gone (410), removed from the store |
/// | `MessagesUndelivered` | Count | messages not delivered after every retry (429, 5xx) |
///
/// [Embedded Metric Format]: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
///
/// ```
/// use lift_runtime::observe::Metrics;
/// # use lift_runtime::prelude::*;
/// # #[ws_app] mod app { use lift_runtime::prelude::*; #[ws_default] async fn d() -> WsResult { Ok(()) } }
/// let app = lift_runtime::App::new(app::router()).middleware(Metrics::new("Lift/Chat"));
/// # let _ = app;
/// ```
#[derive(Clone)]
pub struct Metrics {
    namespace: Arc<str>,
    sink: Sink,
}

impl Metrics {
    /// Metrics in this CloudWatch namespace, written to stdout.
    pub fn new(namespace: &str) -> Self {
        Metrics::to_writer(namespace, std::io::stdout())
    }

    /// Metrics written to `writer` (one JSON document per line).
    pub fn to_writer(namespace: &str, writer: impl Write + Send + 'static) -> Self {
        Metrics {
            namespace: namespace.into(),
            sink: Arc::new(Mutex::new(Box::new(writer))),
        }
    }

    fn write(
        &self,
        route: &str,
        latency: Duration,
        size: usize,
        outcome: Outcome,
        sends: crate::outbound::SendTotals,
    ) {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let line = json!({
            "_aws": {
                "Timestamp": timestamp,
                "CloudWatchMetrics": [{
                    "Namespace": &*self.namespace,
                    // Per route, and across routes (what the template's alarms watch).
                    "Dimensions": [["Route"], []],
                    "Metrics": [
                        {"Name": "Events", "Unit": "Count"},
                        {"Name": "Latency", "Unit": "Milliseconds"},
                        {"Name": "MessageSize", "Unit": "Bytes"},
                        {"Name": "Errors", "Unit": "Count"},
                        {"Name": "MessagesDelivered", "Unit": "Count"},
                        {"Name": "ConnectionsGone", "Unit": "Count"},
                        {"Name": "MessagesUndelivered", "Unit": "Count"},
                        {"Name": "StoreErrors", "Unit": "Count"},
                    ],
                }],
            },
            "Route": route,
            "Events": 1,
            "Latency": latency.as_secs_f64() * 1000.0,
            "MessageSize": size,
            "Errors": u8::from(outcome != Outcome::Ok),
            "MessagesDelivered": sends.delivered,
            "ConnectionsGone": sends.gone,
            "MessagesUndelivered": sends.undelivered,
            "StoreErrors": u8::from(outcome == Outcome::StoreError),
        });
        let mut sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(err) = writeln!(sink, "{line}").and_then(|()| sink.flush()) {
            tracing::warn!(error = %err, "could not write the metrics line");
        }
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// How an event ended, for [`Metrics`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    Error,
    /// An error that was a failed store request (also an error).
    StoreError,
}

impl<'a> Middleware<'a> for Metrics {
    type Future = BoxFuture<'a, HandlerResult>;

    fn call(&self, ctx: &'a mut WsContext, next: Next<'a>) -> Self::Future {
        let metrics = self.clone();
        Box::pin(async move {
            let started = Instant::now();
            let size = ctx.body().map_or(0, str::len);
            let route = ctx.route().as_str().to_owned();
            let result = next.run(ctx).await;
            let sends = ctx.send_totals();
            let outcome = match &result {
                Ok(_) => Outcome::Ok,
                Err(err) if err.is_store_failure() => Outcome::StoreError,
                Err(_) => Outcome::Error,
            };
            metrics.write(&route, started.elapsed(), size, outcome, sends);
            result
        })
    }
}

/// Limits the messages of each connection with a token bucket (in this process's memory):
/// `burst` messages at once, refilled at `per_second`. A message over the limit is answered
/// with the error frame `rate_limited` (status 429) and the handler is not called; the
/// connection stays open. `$connect` and `$disconnect` are never limited.
///
/// In Lambda each instance keeps its own buckets, so the limit is per instance.
#[derive(Clone)]
pub struct RateLimit {
    per_second: f64,
    burst: f64,
    buckets: Arc<Mutex<HashMap<String, (f64, Instant)>>>,
}

impl RateLimit {
    /// `burst` messages at once, `per_second` on average.
    pub fn per_connection(per_second: f64, burst: u32) -> Self {
        RateLimit {
            per_second,
            burst: f64::from(burst.max(1)),
            buckets: Arc::default(),
        }
    }

    /// Takes a token for `id`; `false` when there is none.
    fn take(&self, id: &str) -> bool {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let (tokens, last) = buckets.entry(id.to_owned()).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn forget(&self, id: &str) {
        self.buckets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }
}

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimit")
            .field("per_second", &self.per_second)
            .field("burst", &self.burst)
            .finish_non_exhaustive()
    }
}

impl<'a> Middleware<'a> for RateLimit {
    type Future = BoxFuture<'a, HandlerResult>;

    fn call(&self, ctx: &'a mut WsContext, next: Next<'a>) -> Self::Future {
        let limit = self.clone();
        Box::pin(async move {
            match ctx.route() {
                RouteKey::Connect => {}
                RouteKey::Disconnect => limit.forget(ctx.connection_id()),
                _ if !limit.take(ctx.connection_id()) => {
                    return Err(WsError::new(
                        429,
                        "rate_limited",
                        "too many messages: slow down",
                    ))
                }
                _ => {}
            }
            next.run(ctx).await
        })
    }
}

/// Installs a log subscriber unless one is installed already: JSON lines in Lambda (one per
/// event, with the `ws_event` span's request id, X-Ray trace header, connection id, route key and event type),
/// readable lines elsewhere, filtered by `filter` ([`Settings::log_filter`](crate::Settings),
/// `RUST_LOG`). [`App::run`](crate::App::run) calls it.
#[cfg(any(feature = "lambda", feature = "local"))]
pub(crate) fn init_logging(lambda: bool, filter: &str) {
    use tracing::subscriber::set_global_default;
    let _ = if lambda {
        set_global_default(lambda_subscriber(std::io::stdout, filter))
    } else {
        set_global_default(
            tracing_subscriber::fmt()
                .with_env_filter(env_filter(filter))
                .finish(),
        )
    };
    if let Err(err) = tracing_subscriber::EnvFilter::try_new(filter) {
        tracing::warn!(filter, error = %err, "RUST_LOG is not a log filter: logging at `info`");
    }
}

/// Without a transport nothing is logged by the runtime's own subscriber.
#[cfg(not(any(feature = "lambda", feature = "local")))]
pub(crate) fn init_logging(_lambda: bool, _filter: &str) {}

#[cfg(any(feature = "lambda", feature = "local"))]
fn env_filter(filter: &str) -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
}

/// The subscriber [`App::run`](crate::App::run) installs in Lambda, writing JSON lines to
/// `writer` (CloudWatch adds the time; each line carries the event's span fields), filtered by
/// `filter` (`RUST_LOG` syntax, e.g. `info`): to capture an app's logs as Lambda writes them.
#[cfg(any(feature = "lambda", feature = "local"))]
pub fn lambda_subscriber<W>(writer: W, filter: &str) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .without_time()
        .with_env_filter(env_filter(filter))
        .with_writer(writer)
        .finish()
}
