//! Middleware: onion order, short-circuiting, replies rewritten, `$connect` refused — with real
//! WebSocket clients on the emulator.

use std::sync::Mutex;

use lift_runtime::prelude::*;
use lift_runtime::App;
use lift_tests::{start, Client};
use serde_json::json;

/// What ran, in order, per connection id.
static TRACE: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

fn trace(ctx: &WsContext, what: &str) {
    TRACE
        .lock()
        .unwrap()
        .push((ctx.connection_id().to_owned(), what.to_owned()));
}

fn trace_of(id: &str) -> Vec<String> {
    TRACE
        .lock()
        .unwrap()
        .iter()
        .filter(|(seen, _)| seen == id)
        .map(|(_, what)| what.clone())
        .collect()
}

#[ws_middleware]
async fn outer(ctx: &mut WsContext, next: Next<'_>) -> WsResult<Option<Reply>> {
    trace(ctx, "outer before");
    let result = next.run(ctx).await;
    trace(ctx, "outer after");
    result
}

#[ws_middleware]
async fn inner(ctx: &mut WsContext, next: Next<'_>) -> WsResult<Option<Reply>> {
    trace(ctx, "inner before");
    if ctx.query("token") == Some("bad") {
        return Err(WsError::unauthorized("bad token"));
    }
    if ctx.body().is_some_and(|body| body.contains("forbidden")) {
        // Short-circuit: the handler never runs.
        return Err(WsError::forbidden("not allowed"));
    }
    // Rewrite the reply on its way out.
    let result = next
        .run(ctx)
        .await
        .map(|reply| reply.map(|reply| Reply::text(reply.body().to_uppercase())));
    trace(ctx, "inner after");
    result
}

#[ws_app]
mod app {
    use lift_runtime::prelude::*;

    #[ws_connect]
    async fn connect(ctx: &mut WsContext) -> WsResult {
        super::trace(ctx, "connect handler");
        Ok(())
    }

    #[ws_route("shout", reply)]
    async fn shout(ctx: &WsContext, body: String) -> WsResult<Reply> {
        super::trace(ctx, "shout handler");
        Ok(Reply::text(body))
    }

    #[ws_route("forbidden", reply)]
    async fn forbidden(ctx: &WsContext) -> WsResult<Reply> {
        super::trace(ctx, "forbidden handler");
        Ok(Reply::text("should not run"))
    }
}

async fn start_app() -> lift_runtime::testing::TestApp {
    start(App::new(app::router()).middleware(outer).middleware(inner)).await
}

#[tokio::test]
async fn middleware_runs_in_onion_order_on_every_event() {
    let emulator = start_app().await;
    let mut client = Client::try_connect(&emulator.url()).await.unwrap();
    let id = emulator.connection_ids().pop().unwrap();
    client
        .send_json(json!({"action": "shout", "text": "hi"}))
        .await;
    assert_eq!(
        client.recv_text().await,
        r#"{"ACTION":"SHOUT","TEXT":"HI"}"#
    );
    assert_eq!(
        trace_of(&id),
        [
            "outer before",
            "inner before",
            "connect handler",
            "inner after",
            "outer after",
            "outer before",
            "inner before",
            "shout handler",
            "inner after",
            "outer after",
        ]
    );
}

#[tokio::test]
async fn a_middleware_error_stops_the_event_before_the_handler() {
    let emulator = start_app().await;
    let mut client = Client::try_connect(&emulator.url()).await.unwrap();
    let id = emulator.connection_ids().pop().unwrap();
    client.send_json(json!({"action": "forbidden"})).await;
    assert_eq!(
        client.recv_json().await,
        json!({"type": "error", "code": "forbidden", "message": "not allowed"})
    );
    // The exact order: $connect through the whole onion, then the message stopped by `inner`
    // (no handler, no "inner after") with `outer` still seeing the error on its way out.
    assert_eq!(
        trace_of(&id),
        [
            "outer before",
            "inner before",
            "connect handler",
            "inner after",
            "outer after",
            "outer before",
            "inner before",
            "outer after",
        ]
    );
}

#[tokio::test]
async fn a_middleware_refusing_connect_refuses_the_handshake_and_stores_nothing() {
    let emulator = start_app().await;
    let url = format!("{}/?token=bad", emulator.url());
    assert_eq!(Client::try_connect(&url).await.err(), Some(401));
    assert!(emulator.store().list().await.unwrap().is_empty());
}

#[derive(Clone)]
struct Tenant(String);

#[ws_middleware]
async fn tenant(ctx: &mut WsContext, next: Next<'_>) -> WsResult<Option<Reply>> {
    let tenant = ctx.query("tenant").unwrap_or("public").to_owned();
    ctx.extensions_mut().insert(Tenant(tenant));
    next.run(ctx).await
}

#[ws_app]
mod tenants {
    use lift_runtime::prelude::*;

    #[ws_route("tenant", reply)]
    async fn tenant(ctx: &WsContext) -> WsResult<Reply> {
        let tenant = ctx
            .extensions()
            .get::<super::Tenant>()
            .expect("set by the middleware");
        Ok(Reply::text(tenant.0.clone()))
    }
}

#[tokio::test]
async fn middleware_hands_typed_data_to_the_handler() {
    let emulator = start(App::new(tenants::router()).middleware(tenant)).await;
    let mut client = Client::try_connect(&emulator.url()).await.unwrap();
    client.send_json(json!({"action": "tenant"})).await;
    assert_eq!(client.recv_text().await, "public");
}
