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

#[cfg(feature = "otlp")]
pub(crate) mod otlp;

type Sink = Arc<Mutex<Box<dyn Write + Send>>>;

/// Writes one CloudWatch [Embedded Metric Format] line per event, synchronously as the event
/// ends (no background task), and one per batch of fan-out records the function consumes. In
/// Lambda, stdout goes to CloudWatch Logs, which turns the lines into metrics: nothing is sent
/// from the function. Added with [`App::middleware`](crate::App::middleware), the same
/// `Metrics` writes both kinds of line.
///
/// An event's line has each metric twice: with the dimension `Route` (the route key) and
/// without dimensions (across routes, what the deployment template's alarms watch). A fan-out
/// batch's line has no dimension, so its sends add to the same across-routes figures.
///
/// | metric | unit | dimensions | emitted | value |
/// |---|---|---|---|---|
/// | `Events` | Count | `Route`; none | per event | 1 |
/// | `Latency` | Milliseconds | `Route`; none | per event | the middleware chain and handler, end to end |
/// | `MessageSize` | Bytes | `Route`; none | per event | the message body (0 for `$connect`/`$disconnect`) |
/// | `Errors` | Count | `Route`; none | per event | 1 when the handler (or a middleware) returned an error |
/// | `StoreErrors` | Count | `Route`; none | per event | 1 when that error was a failed store request |
/// | `MessagesDelivered` | Count | `Route`; none | per event and per fan-out batch | messages the sends and broadcasts delivered |
/// | `ConnectionsGone` | Count | `Route`; none | per event and per fan-out batch | recipients found gone (410), removed from the store |
/// | `MessagesUndelivered` | Count | `Route`; none | per event and per fan-out batch | messages not delivered after every retry (429, 5xx), or given up on: a fan-out record expired or dead-lettered |
/// | `MessagesQueued` | Count | `Route`; none | per event and per fan-out batch | members a room broadcast handed to the fan-out queue by id; in a batch, the members a room's cursor record was expanded into |
/// | `FanoutRecords` | Count | none | per fan-out batch | records in the batch |
/// | `FanoutRecordsRetried` | Count | none | per fan-out batch | records reported failed, which SQS delivers again |
/// | `FanoutRecordsDeadLettered` | Count | none | per fan-out batch | records failed at their last receive ([`FanoutSettings::max_receives`](crate::settings::FanoutSettings::max_receives)): SQS moves them to the dead-letter queue |
/// | `FanoutLatency` | Milliseconds | none | per fan-out batch | the batch's time in the consumer |
///
/// Over time, `MessagesQueued` is matched by the fan-out batches' `MessagesDelivered`,
/// `ConnectionsGone` and `MessagesUndelivered`.
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
        self.emit(
            Some(route),
            &[
                ("Events", COUNT, 1.0),
                ("Latency", MILLISECONDS, latency.as_secs_f64() * 1000.0),
                ("MessageSize", "Bytes", size as f64),
                ("Errors", COUNT, f64::from(u8::from(outcome != Outcome::Ok))),
                (
                    "StoreErrors",
                    COUNT,
                    f64::from(u8::from(outcome == Outcome::StoreError)),
                ),
                ("MessagesDelivered", COUNT, sends.delivered as f64),
                ("ConnectionsGone", COUNT, sends.gone as f64),
                ("MessagesUndelivered", COUNT, sends.undelivered as f64),
                ("MessagesQueued", COUNT, sends.queued as f64),
            ],
        );
    }

    /// The line of one batch of fan-out records the function consumed (without dimensions).
    pub(crate) fn fanout_batch(&self, batch: &FanoutBatch) {
        self.emit(
            None,
            &[
                ("FanoutRecords", COUNT, batch.records as f64),
                ("FanoutRecordsRetried", COUNT, batch.retried as f64),
                (
                    "FanoutRecordsDeadLettered",
                    COUNT,
                    batch.dead_lettered as f64,
                ),
                (
                    "FanoutLatency",
                    MILLISECONDS,
                    batch.elapsed.as_secs_f64() * 1000.0,
                ),
                ("MessagesDelivered", COUNT, batch.delivered as f64),
                ("ConnectionsGone", COUNT, batch.gone as f64),
                ("MessagesUndelivered", COUNT, batch.undelivered as f64),
                ("MessagesQueued", COUNT, batch.queued as f64),
            ],
        );
    }

    /// One EMF line: these metrics per `route` and across routes, or (without a route) with no
    /// dimension.
    fn emit(&self, route: Option<&str>, metrics: &[(&str, &str, f64)]) {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let names: Vec<_> = metrics
            .iter()
            .map(|(name, unit, _)| json!({"Name": name, "Unit": unit}))
            .collect();
        // Per route, and across routes (what the template's alarms watch).
        let dimensions = match route {
            Some(_) => json!([["Route"], []]),
            None => json!([[]]),
        };
        let mut line = json!({
            "_aws": {
                "Timestamp": timestamp,
                "CloudWatchMetrics": [{
                    "Namespace": &*self.namespace,
                    "Dimensions": dimensions,
                    "Metrics": names,
                }],
            },
        });
        if let Some(route) = route {
            line["Route"] = json!(route);
        }
        for (name, _, value) in metrics {
            // Whole numbers as integers: the lines stay as readable as the counts are.
            line[*name] = if value.fract() == 0.0 && value.abs() < 1e15 {
                json!(*value as i64)
            } else {
                json!(value)
            };
        }
        let mut sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(err) = writeln!(sink, "{line}").and_then(|()| sink.flush()) {
            tracing::warn!(error = %err, "could not write the metrics line");
        }
    }
}

const COUNT: &str = "Count";
const MILLISECONDS: &str = "Milliseconds";

/// What one batch of fan-out records did, for [`Metrics::fanout_batch`].
#[derive(Debug, Default)]
pub(crate) struct FanoutBatch {
    pub(crate) records: usize,
    pub(crate) retried: usize,
    pub(crate) dead_lettered: usize,
    pub(crate) delivered: usize,
    pub(crate) gone: usize,
    pub(crate) undelivered: usize,
    pub(crate) queued: usize,
    pub(crate) elapsed: Duration,
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
/// In Lambda each instance keeps its own buckets, so the limit is per instance. For a limit
/// per user that holds across instances, see [`MessageLimit`](crate::auth::MessageLimit).
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
/// `RUST_LOG`); with feature `otlp` and an OTLP endpoint in the environment, spans exported
/// too ([`otlp_layer`]). [`App::run`](crate::App::run) calls it.
#[cfg(any(feature = "lambda", feature = "local"))]
pub(crate) fn init_logging(lambda: bool, filter: &str) {
    use tracing::subscriber::set_global_default;
    use tracing_subscriber::layer::SubscriberExt;
    let mut otlp_error = None;
    let (targets, refused) = log_targets(filter);
    let registry = tracing_subscriber::registry().with(targets);
    let _ = if lambda {
        let subscriber = registry.with(json_layer(std::io::stdout));
        set_global_default(subscriber.with(otlp_or_none(&mut otlp_error)))
    } else {
        let subscriber = registry.with(tracing_subscriber::fmt::layer());
        set_global_default(subscriber.with(otlp_or_none(&mut otlp_error)))
    };
    if let Some(err) = refused {
        tracing::warn!(filter, error = %err, "RUST_LOG is not a log filter: logging at `info`");
    }
    if let Some(err) = otlp_error {
        tracing::error!(error = %err, "spans are not exported: the OTLP exporter did not start");
    }
}

/// The OTLP layer when the environment asks for one; the error that kept it from starting in
/// `error`.
#[cfg(feature = "otlp")]
fn otlp_or_none<S>(
    error: &mut Option<crate::Error>,
) -> Option<Box<dyn tracing_subscriber::Layer<S> + Send + Sync>>
where
    S: tracing::Subscriber
        + for<'span> tracing_subscriber::registry::LookupSpan<'span>
        + Send
        + Sync,
{
    otlp::layer().unwrap_or_else(|err| {
        *error = Some(err);
        None
    })
}

/// Without feature `otlp`, no layer.
#[cfg(all(any(feature = "lambda", feature = "local"), not(feature = "otlp")))]
fn otlp_or_none(_error: &mut Option<crate::Error>) -> Option<tracing_subscriber::layer::Identity> {
    None
}

/// Without a transport nothing is logged by the runtime's own subscriber.
#[cfg(not(any(feature = "lambda", feature = "local")))]
pub(crate) fn init_logging(_lambda: bool, _filter: &str) {}

/// The filter `RUST_LOG` gives: a default level and `target=level` directives, comma-separated
/// (`info`, `warn,lift_runtime=debug`), each target matching its modules too; `info`, and why,
/// when it is not such a filter. (`tracing_subscriber`'s `Targets`: `EnvFilter`'s span and field
/// directives would bring a regex engine, a quarter of a megabyte, into every Lambda binary.)
#[cfg(any(feature = "lambda", feature = "local"))]
fn log_targets(
    filter: &str,
) -> (
    tracing_subscriber::filter::Targets,
    Option<tracing_subscriber::filter::ParseError>,
) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    match filter.trim().parse::<Targets>() {
        Ok(targets) => (targets, None),
        Err(err) => (Targets::new().with_default(LevelFilter::INFO), Some(err)),
    }
}

/// JSON lines as Lambda's log subscriber writes them.
#[cfg(any(feature = "lambda", feature = "local"))]
fn json_layer<S, W>(writer: W) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .without_time()
        .with_writer(writer)
}

/// The subscriber [`App::run`](crate::App::run) installs in Lambda, writing JSON lines to
/// `writer` (CloudWatch adds the time; each line carries the event's span fields), filtered by
/// `filter` (as [`Settings::log_filter`](crate::Settings): `info`, `warn,lift_runtime=debug`):
/// to capture an app's logs as Lambda writes them.
#[cfg(any(feature = "lambda", feature = "local"))]
pub fn lambda_subscriber<W>(writer: W, filter: &str) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::layer::SubscriberExt;
    tracing_subscriber::registry()
        .with(log_targets(filter).0)
        .with(json_layer(writer))
}

/// The layer exporting the app's spans to an OpenTelemetry collector over OTLP/HTTP
/// (protobuf), when the environment names one (`OTEL_EXPORTER_OTLP_ENDPOINT` or
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; `None` otherwise). [`App::run`](crate::App::run) adds
/// it to the subscriber it installs; call it for a subscriber of your own.
///
/// - Spans are exported by the service before each invocation answers (a Lambda function is
///   frozen between invocations, so nothing is left to a background task): one request to the
///   collector per invocation with spans, best made to a collector next to the function (the
///   AWS Distro for OpenTelemetry Lambda layer listens on `localhost:4318`).
/// - An event's span (`ws_event`) continues the invocation's X-Ray trace: the same trace id,
///   the X-Ray segment as its parent. A fan-out record carries its broadcast's span context,
///   so the consumer's span for the record (`fanout_record`) is in the broadcast's trace.
/// - The usual variables apply: `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_SERVICE_NAME` (default: the
///   Lambda function's name), `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`.
///
/// ```no_run
/// use tracing_subscriber::layer::SubscriberExt;
/// # fn demo() -> Result<(), lift_runtime::Error> {
/// let subscriber = tracing_subscriber::registry()
///     .with(tracing_subscriber::fmt::layer())
///     .with(lift_runtime::observe::otlp_layer()?);
/// tracing::subscriber::set_global_default(subscriber).ok();
/// # Ok(()) }
/// ```
#[cfg(feature = "otlp")]
pub fn otlp_layer<S>() -> Result<Option<impl tracing_subscriber::Layer<S>>, crate::Error>
where
    S: tracing::Subscriber
        + for<'span> tracing_subscriber::registry::LookupSpan<'span>
        + Send
        + Sync,
{
    otlp::layer()
}

#[cfg(all(test, any(feature = "lambda", feature = "local")))]
mod tests {
    use super::log_targets;
    use tracing::Level;

    fn enabled(filter: &str, target: &str, level: Level) -> bool {
        log_targets(filter).0.would_enable(target, &level)
    }

    #[test]
    fn rust_log_gives_a_default_level_and_levels_per_target() {
        assert!(enabled("info", "anything", Level::INFO));
        assert!(!enabled("info", "anything", Level::DEBUG));
        let filter = "warn,lift_runtime=debug";
        assert!(enabled(filter, "lift_runtime::service", Level::DEBUG));
        assert!(!enabled(filter, "lift_runtime::service", Level::TRACE));
        assert!(!enabled(filter, "aws_smithy_runtime", Level::INFO));
        assert!(enabled(filter, "aws_smithy_runtime", Level::WARN));
        assert!(log_targets(filter).1.is_none());
    }

    #[test]
    fn a_filter_that_is_not_one_logs_at_info_and_says_why() {
        for filter in ["lift_runtime=loud", "[ws_event{route=x}]=debug"] {
            let (targets, refused) = log_targets(filter);
            assert!(refused.is_some(), "{filter}");
            assert!(
                targets.would_enable("lift_runtime", &Level::INFO),
                "{filter}"
            );
            assert!(
                !targets.would_enable("lift_runtime", &Level::DEBUG),
                "{filter}"
            );
        }
    }
}
