//! Running on AWS Lambda: `lambda_runtime` feeds each API Gateway event, and each SQS event of
//! fan-out records, to the [`Service`], a `tower::Service` of Lambda events.

use std::time::{Duration, Instant, SystemTime};

use lambda_runtime::LambdaEvent;

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
        let service = self.clone();
        // Read before the future is made: the context (large) is not kept in it.
        let invocation = invocation(&event.context);
        let payload = event.payload;
        Box::pin(async move {
            let response = service.handle_lambda(payload, invocation).await;
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
