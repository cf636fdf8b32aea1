//! An app whose `$connect` is guarded by `JwtAuth` and `AllowedOrigins`, for the authorizer
//! tests: its outermost middleware notes every `$connect` the function is invoked with (by the
//! client's `?label=`), before anything can refuse it; `whoami` answers the caller's identity
//! and what the event's authorizer context says.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use lift_runtime::auth::{AllowedOrigins, JwtAuth};
use lift_runtime::App;
use serde_json::{json, Value};

/// The HS256 secret tokens are signed with.
pub const SECRET: &[u8] = b"a test secret that is long enough for HS256";

/// The page allowed to connect.
pub const PAGE: &str = "https://chat.example.com";

/// The labels of the `$connect`s the app ran.
static CONNECTED: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Whether a `$connect` labelled `label` ran.
pub fn connect_ran(label: &str) -> bool {
    CONNECTED
        .lock()
        .unwrap()
        .as_ref()
        .is_some_and(|set| set.contains(label))
}

/// A token for `sub` (named Ana), valid for `secs` seconds from now (negative: expired),
/// signed with `secret`.
pub fn token(sub: &str, secs: i64, secret: &[u8]) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = json!({"sub": sub, "name": "Ana", "aud": "chat", "exp": now + secs});
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

/// Notes each `$connect` invocation, before any other middleware.
#[lift_runtime::ws_middleware]
async fn note(
    ctx: &mut lift_runtime::WsContext,
    next: lift_runtime::Next<'_>,
) -> lift_runtime::WsResult<Option<lift_runtime::Reply>> {
    if *ctx.route() == lift_runtime::RouteKey::Connect {
        let label = ctx.query("label").unwrap_or_default().to_owned();
        CONNECTED
            .lock()
            .unwrap()
            .get_or_insert_with(Default::default)
            .insert(label);
    }
    next.run(ctx).await
}

/// The app: `$connect` invocations noted, then origins, then tokens.
pub fn app() -> App {
    App::new(routes::router())
        .middleware(note)
        .middleware(AllowedOrigins::new([PAGE]))
        .middleware(JwtAuth::hs256(SECRET).audience("chat"))
}

#[lift_runtime::ws_app]
pub mod routes {
    use lift_runtime::prelude::*;
    use serde_json::{json, Value};

    #[ws_route("whoami", reply)]
    async fn whoami(ctx: &WsContext) -> WsResult<Json<Value>> {
        let identity = ctx.identity().await?;
        let principal = ctx
            .event()
            .request_context
            .authorizer
            .fields
            .get("principalId")
            .cloned();
        Ok(Json(json!({"identity": identity, "principal": principal})))
    }
}

/// `value` as the multi-value form API Gateway also sends (`{"k": ["v"]}`).
pub fn multi(value: &Value) -> Value {
    let map = value.as_object().unwrap();
    Value::Object(map.iter().map(|(k, v)| (k.clone(), json!([v]))).collect())
}
