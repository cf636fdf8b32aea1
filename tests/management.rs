//! The Management API: the real `aws-sdk-apigatewaymanagement` client against the emulator's
//! `/@connections`, and the runtime's own `ctx.send` / `ctx.info` / `ctx.disconnect` path.

use aws_sdk_apigatewaymanagement::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_apigatewaymanagement::primitives::Blob;
use aws_sdk_apigatewaymanagement::Client;
use lift_runtime::App;
use lift_tests::{eventually, start, start_chat, Client as WsClient};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

fn sdk_client(endpoint: &str) -> Client {
    let config = aws_sdk_apigatewaymanagement::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "test"))
        .endpoint_url(endpoint)
        .build();
    Client::from_conf(config)
}

#[tokio::test]
async fn a_post_to_a_live_connection_arrives_as_a_frame() {
    let emulator = start_chat().await;
    let mut ana = WsClient::join(&emulator, "ana").await;
    let id = ana.connection_id().await;
    assert!(id.contains('='), "ids carry `=` like API Gateway's: {id}");

    // Both endpoint shapes: with the stage, as in Lambda, and without.
    let root = emulator.url().replace("ws://", "http://");
    for endpoint in [emulator.management_endpoint(), root] {
        let sdk = sdk_client(&endpoint);
        sdk.post_to_connection()
            .connection_id(&id)
            .data(Blob::new(format!(r#"{{"via":"{endpoint}"}}"#)))
            .send()
            .await
            .expect("post succeeds");
        assert_eq!(ana.recv_json().await, json!({"via": endpoint}));
    }
}

#[tokio::test]
async fn a_post_to_an_unknown_connection_is_a_gone_exception() {
    let emulator = start_chat().await;
    let sdk = sdk_client(&emulator.management_endpoint());
    let err = sdk
        .post_to_connection()
        .connection_id("Zm9vYmFyYmF6cXV4=")
        .data(Blob::new("hello"))
        .send()
        .await
        .expect_err("unknown id");
    let err = err.into_service_error();
    assert!(err.is_gone_exception(), "{err:?}");
}

#[tokio::test]
async fn get_connection_describes_the_connection() {
    let emulator = start_chat().await;
    let mut ana = WsClient::join(&emulator, "ana").await;
    let id = ana.connection_id().await;
    let sdk = sdk_client(&emulator.management_endpoint());
    let info = sdk
        .get_connection()
        .connection_id(&id)
        .send()
        .await
        .expect("get succeeds");
    let connected = info.connected_at().expect("connectedAt");
    let active = info.last_active_at().expect("lastActiveAt");
    assert!(active.secs() >= connected.secs());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - connected.secs()).abs() < 60, "{connected:?}");
    assert_eq!(
        info.identity().and_then(|i| i.source_ip()),
        Some("127.0.0.1")
    );

    let err = sdk
        .get_connection()
        .connection_id("Z29uZQ==")
        .send()
        .await
        .expect_err("unknown id");
    assert!(err.into_service_error().is_gone_exception());
}

#[tokio::test]
async fn delete_closes_the_client_and_disconnects_it() {
    let emulator = start_chat().await;
    let mut ana = WsClient::join(&emulator, "ana").await;
    let id = ana.connection_id().await;
    let sdk = sdk_client(&emulator.management_endpoint());
    sdk.delete_connection()
        .connection_id(&id)
        .send()
        .await
        .expect("delete succeeds");

    match ana.next().await {
        Message::Close(_) => {}
        other => panic!("expected a close, got {other:?}"),
    }
    let store = emulator.store().clone();
    eventually("the $disconnect removes the record", || async {
        store.get(&id).await.unwrap().is_none()
    })
    .await;
    let err = sdk
        .post_to_connection()
        .connection_id(&id)
        .data(Blob::new("late"))
        .send()
        .await
        .expect_err("closed");
    assert!(err.into_service_error().is_gone_exception());
}

/// An app that exercises the runtime's own Management API calls.
#[lift_runtime::ws_app]
mod ops {
    use lift_runtime::prelude::*;
    use lift_runtime::SendError;
    use serde::Deserialize;
    use serde_json::{json, Value};

    #[derive(Deserialize)]
    pub struct Target {
        pub id: String,
    }

    /// Sends to `id`; replies whether it was sent or gone (a typed error).
    #[ws_route("poke", reply)]
    async fn poke(ctx: &WsContext, Json(target): Json<Target>) -> WsResult<Json<Value>> {
        match ctx.send(&target.id, &json!({"type": "poke"})).await {
            Ok(()) => Ok(Json(json!({"sent": target.id}))),
            Err(SendError::Gone { connection_id }) => Ok(Json(json!({"gone": connection_id}))),
            Err(err) => Err(err.into()),
        }
    }

    #[ws_route("info", reply)]
    async fn info(ctx: &WsContext, Json(target): Json<Target>) -> WsResult<Json<Value>> {
        let info = ctx.info(&target.id).await?;
        Ok(Json(json!({
            "sourceIp": info.source_ip,
            "hasConnectedAt": info.connected_at.is_some(),
        })))
    }

    #[ws_route("kick")]
    async fn kick(ctx: &WsContext, Json(target): Json<Target>) -> WsResult {
        ctx.disconnect(&target.id).await?;
        Ok(())
    }

    /// A one-way route's returned value is posted to the caller.
    #[ws_route("returns")]
    async fn returns() -> WsResult<Json<Value>> {
        Ok(Json(json!({"type": "returned"})))
    }

    #[ws_route("huge")]
    async fn huge(ctx: &WsContext) -> WsResult {
        ctx.reply(&"x".repeat(200 * 1024)).await?;
        Ok(())
    }

    #[ws_route("boom")]
    async fn boom() -> WsResult {
        panic!("the handler blew up");
    }

    #[ws_route("refuse")]
    async fn refuse() -> WsResult {
        Err(WsError::forbidden("not for you"))
    }
}

#[tokio::test]
async fn the_runtime_sends_describes_and_closes_through_the_sdk() {
    let emulator = start(App::new(ops::router())).await;
    let url = emulator.url();
    let mut ana = WsClient::try_connect(&url).await.unwrap();
    let mut bob = WsClient::try_connect(&url).await.unwrap();
    let ids = emulator.connection_ids();
    assert_eq!(ids.len(), 2);

    // Find bob's id by poking both: the one whose poke arrives at bob is his.
    let mut bob_id = None;
    for id in &ids {
        ana.send_json(json!({"action": "poke", "id": id})).await;
        let mut frames = vec![ana.recv_json().await];
        if frames[0]["type"] == "poke" {
            frames.push(ana.recv_json().await);
        } else {
            assert_eq!(bob.recv_json().await, json!({"type": "poke"}));
            bob_id = Some(id.clone());
        }
        assert_eq!(frames.last().unwrap()["sent"], id.as_str());
    }
    let bob_id = bob_id.expect("one of them is bob");

    ana.send_json(json!({"action": "info", "id": bob_id})).await;
    assert_eq!(
        ana.recv_json().await,
        json!({"sourceIp": "127.0.0.1", "hasConnectedAt": true})
    );

    ana.send_json(json!({"action": "kick", "id": bob_id})).await;
    assert!(matches!(bob.next().await, Message::Close(_)));

    ana.send_json(json!({"action": "poke", "id": bob_id})).await;
    assert_eq!(ana.recv_json().await, json!({"gone": bob_id}));
}

#[tokio::test]
async fn returned_values_errors_and_panics_reach_the_caller() {
    let emulator = start(App::new(ops::router())).await;
    let mut ana = WsClient::try_connect(&emulator.url()).await.unwrap();

    ana.send_json(json!({"action": "returns"})).await;
    assert_eq!(ana.recv_json().await, json!({"type": "returned"}));

    ana.send_json(json!({"action": "huge"})).await;
    let frame = ana.recv_json().await;
    assert_eq!(frame["code"], "message_too_large", "{frame}");

    ana.send_json(json!({"action": "refuse"})).await;
    assert_eq!(
        ana.recv_json().await,
        json!({"type": "error", "code": "forbidden", "message": "not for you"})
    );

    for _ in 0..2 {
        ana.send_json(json!({"action": "boom"})).await;
        let frame = ana.recv_json().await;
        assert_eq!(frame["code"], "internal", "{frame}");
        assert_eq!(frame["message"], "the handler failed", "{frame}");
    }
    // The connection and the process keep working.
    ana.send_json(json!({"action": "returns"})).await;
    assert_eq!(ana.recv_json().await, json!({"type": "returned"}));
}
