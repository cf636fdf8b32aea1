//! Running on AWS Lambda: `lambda_runtime` feeds each API Gateway event to the [`Service`].

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use lambda_runtime::{service_fn, LambdaEvent};

use crate::app::App;
use crate::management::SdkManagement;
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
    let service = service(app).await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let service = service.clone();
        async move {
            let invocation = invocation(&event.context);
            // Every event gets an answer (a malformed one a 400), so no invocation fails.
            Ok::<_, std::convert::Infallible>(service.handle_json(event.payload, invocation).await)
        }
    }))
    .await
}
