//! The keep-alive route: answered `{"type":"pong"}` as API Gateway's MOCK integration answers
//! it, without the app (its middleware or a handler) seeing the message.

use std::sync::atomic::{AtomicUsize, Ordering};

use lift_runtime::prelude::*;
use lift_runtime::{App, Settings};
use serde_json::json;

/// Every event the app sees, whatever its route.
static EVENTS: AtomicUsize = AtomicUsize::new(0);

#[ws_middleware]
async fn count(ctx: &mut WsContext, next: Next<'_>) -> WsResult<Option<Reply>> {
    EVENTS.fetch_add(1, Ordering::SeqCst);
    next.run(ctx).await
}

#[ws_app]
mod idle {
    use lift_runtime::prelude::*;

    #[ws_route("whoami", reply)]
    async fn whoami(ctx: &WsContext) -> WsResult<Reply> {
        Ok(Reply::text(ctx.connection_id()))
    }
}

fn with_keepalive(key: &str) -> Settings {
    Settings {
        keepalive_route: Some(key.into()),
        ..Settings::default()
    }
}

#[tokio::test]
async fn a_ping_is_answered_pong_and_never_reaches_the_app() {
    let app = App::new(idle::router())
        .middleware(count)
        .settings(with_keepalive("ping"));
    let app = lift_tests::start(app).await;
    let mut client = app.connect("/").await;
    let seen = EVENTS.load(Ordering::SeqCst);
    assert_eq!(seen, 1, "the $connect");

    for _ in 0..3 {
        client.send_json(&json!({"action": "ping"})).await;
        assert_eq!(client.recv_json().await, json!({"type": "pong"}));
    }
    assert_eq!(
        EVENTS.load(Ordering::SeqCst),
        seen,
        "no event reached the app"
    );

    // Other messages still do.
    client.send_json(&json!({"action": "whoami"})).await;
    let id = client.recv_text().await;
    assert!(id.ends_with('='), "{id}");
    assert_eq!(EVENTS.load(Ordering::SeqCst), seen + 1);
    client.close(1000, "").await;
    app.shutdown().await;
}

#[tokio::test]
async fn a_keepalive_route_that_is_also_a_route_of_the_app_is_refused() {
    let err = App::new(idle::router())
        .settings(with_keepalive("whoami"))
        .service()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("keep-alive route `whoami` is also a route of the app"),
        "{err}"
    );
}
