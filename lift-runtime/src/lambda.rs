//! Running on AWS Lambda: `lambda_runtime` feeds each API Gateway event to the [`Service`].

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use lambda_runtime::LambdaEvent;

use crate::app::App;
use crate::outbound::SdkManagement;
use crate::service::{Endpoint, Invocation, Service};

/// The invocation facts of a Lambda context: its request id and deadline.
pub fn invocation(context: &lambda_runtime::Context) -> Invocation {
    let now_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let left = Duration::from_millis(context.deadline.saturating_sub(now_ms));
    Invocation {
        request_id: context.request_id.clone(),
        deadline: Some(Instant::now() + left),
    }
}

/// Builds the Lambda service: SDK configuration from the environment (once, at cold start),
/// `LIFT_MANAGEMENT_ENDPOINT` honoured.
pub(crate) async fn service(mut app: App) -> Result<Service, crate::Error> {
    app.store_from_env(false).await?;
    if app.management_endpoint.is_none() {
        app.management_endpoint = std::env::var("LIFT_MANAGEMENT_ENDPOINT")
            .ok()
            .filter(|s| !s.is_empty());
    }
    let config = match app.sdk_config.take() {
        Some(config) => config,
        None => {
            let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            aws_sdk_apigatewaymanagement::Config::from(&shared)
        }
    };
    Ok(
        app.build(Endpoint::FromEvent { scheme: "https" }, move |endpoint| {
            Arc::new(SdkManagement::new(&config, endpoint))
        }),
    )
}

pub(crate) async fn run(app: App) -> Result<(), crate::Error> {
    lambda_runtime::run(service(app).await?).await
}

/// The service is a `tower::Service` of Lambda events, so it can be wrapped in `tower` layers
/// and given to `lambda_runtime::run` (see [`App::lambda_service`]). Every event gets an
/// answer (a malformed one a 400), so the error type is `Infallible`.
impl tower::Service<LambdaEvent<serde_json::Value>> for Service {
    type Response = aws_lambda_events::apigw::ApiGatewayProxyResponse;
    type Error = std::convert::Infallible;
    type Future = crate::router::BoxFuture<'static, Result<Self::Response, Self::Error>>;

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
            Ok(service.handle_json(event.payload, invocation).await)
        })
    }
}
