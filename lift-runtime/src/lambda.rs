//! Running on AWS Lambda: `lambda_runtime` feeds each API Gateway event, and each SQS event of
//! fan-out records, to the [`Service`], a `tower::Service` of Lambda events.

use std::time::{Duration, Instant, SystemTime};

use lambda_runtime::LambdaEvent;

use crate::service::{Invocation, LambdaResponse, Service};

/// The invocation facts of a Lambda context: its request id, deadline (none when the context
/// has none, as `lambda_runtime::Context::default()`) and X-Ray trace header.
fn invocation(context: &lambda_runtime::Context) -> Invocation {
    let deadline = (context.deadline > 0).then(|| {
        let now_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Instant::now() + Duration::from_millis(context.deadline.saturating_sub(now_ms))
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
        Box::pin(async move {
            let invocation = invocation(&event.context);
            let response = service.handle_lambda(event.payload, invocation).await;
            // The event's spans have ended: exported before the answer, as Lambda freezes the
            // function after it.
            #[cfg(feature = "otlp")]
            crate::observe::otlp::flush().await;
            match response {
                LambdaResponse::Unauthorized => Err("Unauthorized".into()),
                response => Ok(response),
            }
        })
    }
}
