//! OpenTelemetry export (feature `otlp`): the app's `tracing` spans as OpenTelemetry spans
//! (`tracing-opentelemetry`), exported over OTLP/HTTP by `opentelemetry-otlp` through the
//! runtime's own HTTP client (hyper, rustls), and flushed before each invocation answers: a
//! Lambda function is frozen between invocations, so nothing can be left to a background
//! exporter. Each event's span continues the invocation's X-Ray trace (same trace id, the
//! X-Ray segment as its parent); a fan-out record carries its broadcast's span context
//! (W3C `traceparent`), so the consumer's span for the record is in the broadcast's trace.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider as _,
};
use opentelemetry::Context;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter, SpanProcessor};
use opentelemetry_sdk::Resource;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Most spans kept between two flushes; past it spans are dropped (and counted in a warning).
const MAX_PENDING: usize = 20_000;

/// The exporter and the spans ended since the last flush.
struct Pending {
    exporter: opentelemetry_otlp::SpanExporter,
    spans: Mutex<Vec<SpanData>>,
    dropped: Mutex<usize>,
}

/// The process's export, once [`layer`] made it.
struct Export {
    pending: Arc<Pending>,
    /// Kept alive for the process: dropping it would shut the tracer down.
    _provider: SdkTracerProvider,
}

static EXPORT: OnceLock<Export> = OnceLock::new();

/// Collects ended spans for [`flush`].
#[derive(Clone)]
struct Collect(Arc<Pending>);

impl std::fmt::Debug for Collect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Collect")
    }
}

impl SpanProcessor for Collect {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        let mut spans = self.0.spans.lock().unwrap_or_else(PoisonError::into_inner);
        if spans.len() < MAX_PENDING {
            spans.push(span);
        } else {
            *self
                .0
                .dropped
                .lock()
                .unwrap_or_else(PoisonError::into_inner) += 1;
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        // Exported by `flush`, asynchronously, in the invocation's own task.
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Whether the environment names an OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT` or
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`).
fn configured() -> bool {
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|name| std::env::var(name).is_ok_and(|v| !v.is_empty()))
}

/// The layer exporting spans, when the environment names an endpoint; made once per process.
pub(crate) fn layer<S>() -> Result<Option<Box<dyn Layer<S> + Send + Sync>>, crate::Error>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
{
    if !configured() {
        return Ok(None);
    }
    let export = match EXPORT.get() {
        Some(export) => export,
        None => {
            let export = start()?;
            EXPORT.get_or_init(|| export)
        }
    };
    let tracer = export._provider.tracer("lift-runtime");
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        // lambda_runtime's own span wraps every invocation and ends after the answer, so it
        // would only ever be exported with the next one: left out; the event's span is the
        // root of the function's part of the trace.
        .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
            !meta.target().starts_with("lambda_runtime")
        }));
    Ok(Some(Box::new(layer)))
}

fn start() -> Result<Export, crate::Error> {
    let client = opentelemetry_http::hyper::HyperClient::new(
        crate::outbound::LazyTls::new(),
        Duration::from_secs(5),
        None,
    );
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_protocol(Protocol::HttpBinary)
        .with_timeout(Duration::from_secs(5))
        .build()
        .map_err(|err| crate::Error::from(format!("the OTLP exporter: {err}")))?;
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        if let Ok(function) = std::env::var("AWS_LAMBDA_FUNCTION_NAME") {
            resource = resource.with_service_name(function);
        }
    }
    let resource = resource.build();
    exporter.set_resource(&resource);
    let pending = Arc::new(Pending {
        exporter,
        spans: Mutex::default(),
        dropped: Mutex::default(),
    });
    let provider = SdkTracerProvider::builder()
        .with_span_processor(Collect(pending.clone()))
        .with_resource(resource)
        .build();
    Ok(Export {
        pending,
        _provider: provider,
    })
}

/// Whether spans are exported (an OTLP endpoint was configured): without, nothing is flushed.
pub(crate) fn exporting() -> bool {
    EXPORT.get().is_some()
}

/// Exports the spans ended so far (an invocation calls it before it answers). A failed export
/// is logged; its spans are not kept.
pub(crate) async fn flush() {
    let Some(export) = EXPORT.get() else { return };
    let batch = std::mem::take(
        &mut *export
            .pending
            .spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
    );
    let dropped = std::mem::take(
        &mut *export
            .pending
            .dropped
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
    );
    if dropped > 0 {
        tracing::warn!(
            dropped,
            "spans dropped: more than {MAX_PENDING} between two exports"
        );
    }
    if batch.is_empty() {
        return;
    }
    let spans = batch.len();
    if let Err(err) = export.pending.exporter.export(batch).await {
        tracing::warn!(spans, error = %err, "could not export spans over OTLP");
    }
}

/// Makes `span` continue the X-Ray trace of `header` (`Root=1-{8 hex}-{24 hex};Parent={16
/// hex};...`): its trace id is X-Ray's, its parent the X-Ray segment. X-Ray's sampling
/// decision is not followed (without active tracing Lambda marks every trace unsampled): the
/// OpenTelemetry sampler decides (`OTEL_TRACES_SAMPLER`).
pub(crate) fn continue_xray(span: &tracing::Span, header: &str) {
    if EXPORT.get().is_none() {
        return;
    }
    let mut root = None;
    let mut parent = None;
    for part in header.split(';') {
        match part.trim().split_once('=') {
            Some(("Root", value)) => root = Some(value),
            Some(("Parent", value)) => parent = Some(value),
            _ => {}
        }
    }
    let trace = root
        .and_then(|root| root.strip_prefix("1-"))
        .map(|root| root.replace('-', ""))
        .and_then(|hex| TraceId::from_hex(&hex).ok());
    let parent = parent.and_then(|hex| SpanId::from_hex(hex).ok());
    if let (Some(trace), Some(parent)) = (trace, parent) {
        let remote = SpanContext::new(
            trace,
            parent,
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        let _ = span.set_parent(Context::new().with_remote_span_context(remote));
    }
}

/// The current span's context as a W3C `traceparent`, for a fan-out record.
pub(crate) fn traceparent() -> Option<String> {
    EXPORT.get()?;
    let context = tracing::Span::current().context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove("traceparent")
}

/// Makes `span` a child of the span `traceparent` names (a fan-out record's broadcast).
pub(crate) fn continue_traceparent(span: &tracing::Span, traceparent: &str) {
    if EXPORT.get().is_none() {
        return;
    }
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    if context.span().span_context().is_valid() {
        let _ = span.set_parent(context);
    }
}
