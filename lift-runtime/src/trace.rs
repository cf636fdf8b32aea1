//! The invocation an event runs in, for what the event hands on: its X-Ray trace header on
//! every Management API request ([`trace_header`]), and its request and trace ids in the
//! fan-out records it queues ([`Origin`]), which the consumer's logs name. Set for the length of
//! an invocation by [`within`] (a task-local: what the invocation's own task does sees it).

use std::future::Future;

use serde::{Deserialize, Serialize};

tokio::task_local! {
    static CURRENT: Origin;
}

/// Where work came from: the Lambda request id and X-Ray trace header of the invocation that
/// started it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Origin {
    /// The invocation's request id.
    pub(crate) request_id: String,
    /// Its X-Ray trace header (`Root=1-...;Parent=...;Sampled=...`), when Lambda gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) trace_id: Option<String>,
    /// The W3C `traceparent` of the span that handed the work on (feature `otlp`, when spans
    /// are exported), so the work's spans join its trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) traceparent: Option<String>,
}

/// Runs `work` as the invocation `origin`. Not an `async fn`, which would keep `work` and the
/// future that runs it side by side: twice the size of every event's future.
pub(crate) fn within<F: Future>(origin: Origin, work: F) -> impl Future<Output = F::Output> {
    CURRENT.scope(origin, work)
}

/// The invocation this task runs for, if [`within`] set one.
pub(crate) fn current() -> Option<Origin> {
    CURRENT.try_with(Clone::clone).ok()
}

/// The X-Ray trace header of the invocation this task runs for, for `X-Amzn-Trace-Id`.
pub(crate) fn trace_header() -> Option<String> {
    CURRENT
        .try_with(|origin| origin.trace_id.clone())
        .ok()
        .flatten()
}
