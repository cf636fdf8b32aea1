//! Running on AWS Lambda: `lambda_runtime` feeds each API Gateway event, and each SQS event of
//! fan-out records, to the [`Service`], a `tower::Service` of Lambda events.

use std::time::{Duration, Instant, SystemTime};

use futures_util::FutureExt;
use lambda_runtime::LambdaEvent;
use serde::Deserialize;

use crate::event::Event;
use crate::service::{Invocation, LambdaResponse, Service};

/// Deadlines below this (September 2001, in Unix milliseconds) are not times: `cargo lambda
/// watch` sends the function's timeout itself (`600000`) as `Lambda-Runtime-Deadline-Ms`.
const EARLIEST_DEADLINE_MS: u64 = 1_000_000_000_000;

/// The invocation facts of a Lambda context: its request id, deadline (none when the context
/// has none, as `lambda_runtime::Context::default()`) and X-Ray trace header.
fn invocation(context: &lambda_runtime::Context) -> Invocation {
    let deadline = (context.deadline > 0).then(|| {
        let now_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let left = if context.deadline < EARLIEST_DEADLINE_MS {
            // A local emulation of Lambda that sends the timeout: that long from now.
            context.deadline
        } else {
            context.deadline.saturating_sub(now_ms)
        };
        Instant::now() + Duration::from_millis(left)
    });
    Invocation {
        request_id: context.request_id.clone(),
        deadline,
        trace_id: context.xray_trace_id.clone(),
    }
}

/// An event as [`App::run`](crate::App::run) has `lambda_runtime` read it: an API Gateway
/// WebSocket event read from the invocation's bytes only as far as the runtime needs (its
/// fields; the rest when a handler asks for [`WsContext::event`]), without a
/// `serde_json::Value` or the whole typed event in between; any other event (an SQS batch, an
/// authorizer's request, a task), and any event that does not read as one, as JSON, handled as
/// [`Service::handle`] handles it (so a malformed event gets the same answer either way).
///
/// Read from JSON text only (as `lambda_runtime` reads every event): it borrows the text.
///
/// [`WsContext::event`]: crate::WsContext::event
pub struct Payload(Read);

enum Read {
    WebSocket(Event),
    Other(serde_json::Value),
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = <&'de serde_json::value::RawValue>::deserialize(deserializer)?;
        Payload::read(json.get()).map_err(serde::de::Error::custom)
    }
}

impl Payload {
    /// `json`, read as far as an API Gateway WebSocket event needs.
    pub fn read(json: &str) -> Result<Payload, serde_json::Error> {
        if let Some(event) = crate::inbound::read_text(json) {
            return Ok(Payload(Read::WebSocket(event)));
        }
        serde_json::from_str(json).map(|value| Payload(Read::Other(value)))
    }
}

/// [`Service`] as [`App::run`](crate::App::run) hands it to `lambda_runtime`: a `tower::Service`
/// of [`Payload`]s, which are read from the invocation's bytes as far as needed, where the
/// public `tower::Service` of `serde_json::Value`s has `lambda_runtime` make the whole `Value`
/// first.
#[derive(Clone, Debug)]
pub struct LambdaService(pub Service);

impl tower::Service<LambdaEvent<Payload>> for LambdaService {
    type Response = LambdaResponse;
    type Error = crate::Error;
    type Future = futures_util::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, event: LambdaEvent<Payload>) -> Self::Future {
        let service = self.0.clone();
        // Read before the future is made: the context (large) is not kept in it.
        let invocation = invocation(&event.context);
        let Payload(payload) = event.payload;
        Box::pin(async move {
            // One future or the other, awaited at one point: the two share their place in this
            // one, which is boxed (and stays under a kilobyte: see `service`'s tests).
            let handled = match payload {
                Read::WebSocket(event) => service.handle_read(event, invocation).left_future(),
                Read::Other(value) => service.handle_lambda(value, invocation).right_future(),
            };
            answer(handled.await).await
        })
    }
}

/// What the function answers Lambda for `response`, once the event's spans are exported.
async fn answer(response: LambdaResponse) -> Result<LambdaResponse, crate::Error> {
    // The event's spans have ended: exported before the answer, as Lambda freezes the
    // function after it.
    // Boxed, and only when exporting: an app that has the feature but no endpoint
    // carries nothing of it in every event's future.
    #[cfg(feature = "otlp")]
    if crate::observe::otlp::exporting() {
        Box::pin(crate::observe::otlp::flush()).await;
    }
    match response {
        LambdaResponse::Unauthorized => Err("Unauthorized".into()),
        response => Ok(response),
    }
}

/// The service is a `tower::Service` of Lambda events, so it can be wrapped in `tower` layers
/// and given to `lambda_runtime::run` (see [`Service`]). Every event gets an answer (a
/// malformed one a 400); the one error is `Unauthorized`, an authorizer's refusal of a request
/// without a valid token ([`LambdaResponse::Unauthorized`]), which API Gateway answers with 401.
impl tower::Service<LambdaEvent<serde_json::Value>> for Service {
    type Response = LambdaResponse;
    type Error = crate::Error;
    type Future = futures_util::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, event: LambdaEvent<serde_json::Value>) -> Self::Future {
        let (payload, context) = event.into_parts();
        let event = LambdaEvent::new(Payload(Read::Other(payload)), context);
        tower::Service::call(&mut LambdaService(self.clone()), event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `App::run` boxes for each event stays under a kilobyte (glibc's slow path; see
    /// `service`'s tests): the WebSocket event's and the other events' futures share one place.
    #[tokio::test]
    async fn an_events_future_is_small() {
        let service = crate::App::new(crate::router::Router::new(&[]))
            .store(crate::store::MemoryStore::new())
            .service()
            .await
            .unwrap();
        let message = r#"{"requestContext":{"routeKey":"a","eventType":"MESSAGE",
            "connectionId":"c=","domainName":"h","connectedAt":1},"body":"{}"}"#;
        for json in [message, r#"{"Records":[]}"#] {
            let payload = Payload::read(json).unwrap();
            let event = LambdaEvent::new(payload, lambda_runtime::Context::default());
            let future = tower::Service::call(&mut LambdaService(service.clone()), event);
            let size = std::mem::size_of_val(&*future);
            assert!(size < 1000, "an event's future is {size} bytes");
        }
    }

    #[test]
    fn a_deadline_is_a_time_or_else_the_time_left() {
        let mut context = lambda_runtime::Context::default();
        assert_eq!(invocation(&context).deadline, None);
        let now_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        context.deadline = now_ms + 3_000;
        let left = invocation(&context).deadline.unwrap() - Instant::now();
        assert!(
            left > Duration::from_secs(2) && left <= Duration::from_secs(3),
            "{left:?}"
        );
        // What `cargo lambda watch` sends: the timeout, 10 minutes.
        context.deadline = 600_000;
        let left = invocation(&context).deadline.unwrap() - Instant::now();
        assert!(left > Duration::from_secs(599), "{left:?}");
    }
}
