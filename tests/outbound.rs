//! The runtime's Management API client (hyper, signed by `aws-sigv4`) and the AWS SDK's
//! (`aws-sdk-apigatewaymanagement`), side by side: an app's sends go to the emulator (which
//! checks every signature) and to the fault server, and each fault must end in the `SendError`
//! that the SDK's view of the same answer (its error code and status) stands for. The client's
//! own tests against the emulator (credentials cached and refreshed, wrong signatures refused)
//! are in `lift-runtime/src/outbound/http.rs`.

use std::time::Duration;

use aws_sdk_apigatewaymanagement::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_apigatewaymanagement::primitives::Blob;
use lift_runtime::{App, Service};
use lift_tests::events::message_event;
use lift_tests::faults::{FaultServer, Plan};
use lift_tests::{start_chat, Client};
use serde_json::json;

#[lift_runtime::ws_app]
mod relay {
    use lift_runtime::prelude::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Post {
        to: String,
    }

    /// Posts `{}` to `to` and answers what the send ended in, as `Debug` text.
    #[ws_route("post", reply)]
    async fn post(ctx: &WsContext, Json(post): Json<Post>) -> WsResult<Reply> {
        let outcome = ctx.send_raw(&post.to, b"{}").await;
        Ok(Reply::text(format!("{outcome:?}")))
    }
}

/// The relay app, sending to `endpoint` once per send (no retries: each answer is seen as is).
async fn relay(endpoint: &str) -> Service {
    let mut settings = lift_tests::endpoint(endpoint);
    settings.broadcast.max_attempts = 1;
    App::new(relay::router())
        .settings(settings)
        .service()
        .await
        .expect("the app's service")
}

/// What the app's send to `to` ended in.
async fn post(service: &Service, to: &str) -> String {
    let body = json!({"action": "post", "to": to}).to_string();
    let response = lift_tests::handle_json(service, message_event("caller=", "post", &body)).await;
    match response.body {
        Some(aws_lambda_events::encodings::Body::Text(text)) => text,
        other => panic!("no answer: {other:?}"),
    }
}

fn sdk_client(endpoint: &str) -> aws_sdk_apigatewaymanagement::Client {
    let config = aws_sdk_apigatewaymanagement::Config::builder()
        .behavior_version(aws_sdk_apigatewaymanagement::config::BehaviorVersion::latest())
        .region(aws_sdk_apigatewaymanagement::config::Region::new(
            "us-east-1",
        ))
        .credentials_provider(aws_sdk_apigatewaymanagement::config::Credentials::new(
            "local", "local", None, None, "test",
        ))
        .endpoint_url(endpoint)
        .retry_config(aws_sdk_apigatewaymanagement::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_apigatewaymanagement::Client::from_conf(config)
}

/// The `SendError` variant the SDK's view of a failed post stands for (the documented
/// mapping: error code first, then status), or `Ok` for a post that succeeded.
async fn sdk_post(client: &aws_sdk_apigatewaymanagement::Client, to: &str) -> &'static str {
    let sent = client
        .post_to_connection()
        .connection_id(to)
        .data(Blob::new("{}"))
        .send()
        .await;
    let err = match sent {
        Ok(_) => return "Ok",
        Err(err) => err,
    };
    let status = match &err {
        SdkError::ServiceError(service) => Some(service.raw().status().as_u16()),
        _ => None,
    };
    match (err.code(), status) {
        (Some("GoneException"), _) | (_, Some(410)) => "Gone",
        (Some("PayloadTooLargeException"), _) | (_, Some(413)) => "TooLarge",
        (Some("ForbiddenException"), _) | (_, Some(403)) => "Forbidden",
        (Some("LimitExceededException"), _) | (_, Some(429)) => "Throttled",
        (_, Some(status)) if status >= 500 => "ServerError",
        _ => "Failed",
    }
}

#[tokio::test]
async fn faults_end_in_the_error_the_sdk_sees() {
    let faults = FaultServer::start().await;
    let endpoint = faults.endpoint();
    let service = relay(&endpoint).await;
    let sdk = sdk_client(&endpoint);
    let plans = [
        ("throttled", Plan::Throttle(1), "Err(Throttled"),
        ("failing", Plan::ServerError(1), "Err(ServerError"),
        ("gone", Plan::Gone, "Err(Gone"),
        ("forbidden", Plan::Forbidden, "Err(Forbidden"),
        ("bad-gateway", Plan::Status(502), "Err(ServerError"),
        ("unavailable", Plan::Status(503), "Err(ServerError"),
        ("gateway-timeout", Plan::Status(504), "Err(ServerError"),
        ("bad-request", Plan::Status(400), "Err(Failed"),
        ("fine", Plan::Deliver, "Ok"),
    ];
    for (id, plan, expected) in plans {
        faults.plan(id, plan);
        let ours = post(&service, id).await;
        assert!(
            ours.starts_with(expected),
            "{id}: {ours}, expected {expected}"
        );
        faults.plan(id, plan);
        let sdk = sdk_post(&sdk, id).await;
        assert!(
            expected.trim_start_matches("Err(").starts_with(sdk),
            "{id}: the SDK sees {sdk}, the runtime {ours}"
        );
    }
    // The status is kept.
    faults.plan("bad-gateway", Plan::Status(502));
    assert!(post(&service, "bad-gateway").await.contains("status: 502"));

    // Nobody listening: a network error, `Failed`, for both.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/prod", closed.local_addr().unwrap());
    drop(closed);
    let ours = post(&relay(&dead).await, "x").await;
    assert!(ours.starts_with("Err(Failed"), "{ours}");
    assert_eq!(sdk_post(&sdk_client(&dead), "x").await, "Failed");
}

#[tokio::test]
async fn the_app_and_the_sdk_reach_the_emulators_connections_alike() {
    let emulator = start_chat().await;
    let mut ana = Client::join(&emulator, "ana").await;
    let id = ana.connection_id().await;
    let endpoint = emulator.management_endpoint();

    // The app's client (its service sends to the emulator's Management API).
    let service = relay(&endpoint).await;
    assert_eq!(post(&service, &id).await, "Ok(())");
    assert_eq!(ana.recv_json().await, json!({}));
    assert!(post(&service, "bm8tc3VjaA==").await.starts_with("Err(Gone"));

    // The SDK's, on the same connections.
    let sdk = sdk_client(&endpoint);
    assert_eq!(sdk_post(&sdk, &id).await, "Ok");
    assert_eq!(ana.recv_json().await, json!({}));
    assert_eq!(sdk_post(&sdk, "bm8tc3VjaA==").await, "Gone");
    ana.expect_silence(Duration::from_millis(100)).await;
}
