//! JWT authentication on `$connect`: real tokens signed here, real WebSocket handshakes on the
//! emulator, the status and the store checked each time.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use lift_runtime::auth::JwtAuth;
use lift_runtime::testing::TestApp;
use lift_runtime::App;
use lift_tests::chat_app::chat;
use lift_tests::{start, Client};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const SECRET: &[u8] = b"a test secret that is long enough for HS256";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims(extra: Value) -> Value {
    let mut claims = json!({"sub": "u-1", "name": "Ana", "aud": "chat", "exp": now() + 600});
    claims
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    claims
}

fn hs256(claims: &Value, secret: &[u8]) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

async fn start_chat_with(auth: JwtAuth) -> TestApp {
    start(App::new(chat::router()).middleware(auth)).await
}

async fn nothing_stored(emulator: &TestApp) {
    assert!(emulator.store().list().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_valid_token_in_the_query_connects_and_names_the_user() {
    let emulator = start_chat_with(JwtAuth::hs256(SECRET).audience("chat")).await;
    let token = hs256(&claims(json!({})), SECRET);
    let mut client = Client::try_connect(&format!("{}/?token={token}", emulator.url()))
        .await
        .unwrap();
    let who = client.whoami().await;
    assert_eq!(who["name"], "Ana");
    // The claims are stored with the connection, for ctx.identity() on later events.
    let id = who["connectionId"].as_str().unwrap();
    let stored = emulator.store().get(id).await.unwrap().unwrap();
    assert_eq!(stored.metadata["claims"]["sub"], "u-1");
    assert_eq!(stored.user.as_deref(), Some("Ana"));
}

#[tokio::test]
async fn the_token_can_come_in_the_authorization_header() {
    let emulator = start_chat_with(JwtAuth::hs256(SECRET)).await;
    let token = hs256(&claims(json!({"name": null, "sub": "bob"})), SECRET);
    let mut client = Client::try_connect_with_header(
        &emulator.url(),
        "authorization",
        &format!("Bearer {token}"),
    )
    .await
    .unwrap();
    assert_eq!(client.whoami().await["name"], "bob");
}

#[tokio::test]
async fn browsers_send_it_as_a_subprotocol_which_is_echoed() {
    let emulator = start_chat_with(JwtAuth::hs256(SECRET)).await;
    let token = hs256(&claims(json!({})), SECRET);
    let mut request = emulator.url().into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        format!("bearer, {token}").parse().unwrap(),
    );
    let (_ws, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "bearer");
    assert_eq!(emulator.store().list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn bad_tokens_are_refused_with_401_and_nothing_is_stored() {
    let emulator = start_chat_with(JwtAuth::hs256(SECRET).audience("chat")).await;
    let expired = hs256(&claims(json!({"exp": now() - 3600})), SECRET);
    let wrong_signature = hs256(
        &claims(json!({})),
        b"another secret, just as long as the real one",
    );
    let wrong_audience = hs256(&claims(json!({"aud": "billing"})), SECRET);
    let no_expiry = {
        let mut c = claims(json!({}));
        c.as_object_mut().unwrap().remove("exp");
        hs256(&c, SECRET)
    };
    // `alg: none`: a header and payload with an empty signature.
    let none = {
        let header = base64_url(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = base64_url(claims(json!({})).to_string().as_bytes());
        format!("{header}.{payload}.")
    };
    for (what, token) in [
        ("expired", expired),
        ("wrong signature", wrong_signature),
        ("wrong audience", wrong_audience),
        ("no exp", no_expiry),
        ("alg none", none),
        ("garbage", "not-a-token".to_owned()),
    ] {
        let url = format!("{}/?token={token}", emulator.url());
        assert_eq!(Client::try_connect(&url).await.err(), Some(401), "{what}");
    }
    assert_eq!(
        Client::try_connect(&emulator.url()).await.err(),
        Some(401),
        "missing"
    );
    nothing_stored(&emulator).await;
}

#[tokio::test]
async fn rs256_tokens_verify_and_the_public_key_is_no_hmac_secret() {
    let public = fixture("test-rsa-public.pem");
    let emulator = start_chat_with(JwtAuth::rs256_pem(&public).unwrap()).await;
    let private = EncodingKey::from_rsa_pem(&fixture("test-rsa-private.pem")).unwrap();
    let token = encode(&Header::new(Algorithm::RS256), &claims(json!({})), &private).unwrap();
    let mut client = Client::try_connect(&format!("{}/?token={token}", emulator.url()))
        .await
        .unwrap();
    assert_eq!(client.whoami().await["name"], "Ana");

    // Algorithm confusion: an HS256 token "signed" with the public key as the secret.
    let forged = hs256(&claims(json!({"name": "Mallory"})), &public);
    let url = format!("{}/?token={forged}", emulator.url());
    assert_eq!(Client::try_connect(&url).await.err(), Some(401));
    assert_eq!(emulator.store().list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn without_auth_the_chat_behaves_as_before() {
    let emulator = start(App::new(chat::router())).await;
    let mut client = Client::join(&emulator, "cy").await;
    assert_eq!(client.whoami().await["name"], "cy");
}

/// Unpadded base64url, as JWTs use.
fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[lift_runtime::ws_app]
mod ident {
    use lift_runtime::prelude::*;
    use serde_json::Value;

    /// The caller's claims, on an event after `$connect` (read from the store).
    #[ws_route("me", reply)]
    async fn me(ctx: &WsContext) -> WsResult<Json<Value>> {
        Ok(Json(ctx.identity().await?.unwrap_or(Value::Null)))
    }
}

#[tokio::test]
async fn identity_gives_the_claims_on_every_later_event() {
    let emulator = start(App::new(ident::router()).middleware(JwtAuth::hs256(SECRET))).await;
    let token = hs256(&claims(json!({"role": "admin"})), SECRET);
    let mut client = Client::try_connect(&format!("{}/?token={token}", emulator.url()))
        .await
        .unwrap();
    for _ in 0..2 {
        client.send_json(json!({"action": "me"})).await;
        let me = client.recv_json().await;
        assert_eq!(
            (me["sub"].as_str(), me["role"].as_str()),
            (Some("u-1"), Some("admin")),
            "{me}"
        );
    }
}

#[tokio::test]
async fn tokens_never_appear_in_the_logs() {
    use lift_tests::events::connect_event;
    use tracing::instrument::WithSubscriber;

    let logs = lift_tests::Buffer::default();
    let service = App::new(chat::router())
        .middleware(JwtAuth::hs256(SECRET).audience("chat"))
        .settings(lift_tests::endpoint("http://127.0.0.1:9/unused"))
        .service()
        .await
        .expect("the app\'s service");
    let good = hs256(&claims(json!({})), SECRET);
    let bad = hs256(&claims(json!({"aud": "other"})), SECRET);
    for (token, status) in [(&good, 200), (&bad, 401)] {
        let mut event = connect_event();
        event["queryStringParameters"] = json!({"token": token});
        event["headers"]["Authorization"] = json!(format!("Bearer {token}"));
        let response = lift_tests::handle_json(&service, event)
            .with_subscriber(lift_runtime::observe::lambda_subscriber(
                logs.clone(),
                "info",
            ))
            .await;
        assert_eq!(response.status_code, status);
    }
    let text = logs.text();
    assert!(
        text.contains("invalid token"),
        "the refusal is logged: {text}"
    );
    for token in [&good, &bad] {
        let signature = token.rsplit('.').next().unwrap();
        assert!(
            !text.contains(signature),
            "a token leaked into the logs: {text}"
        );
    }
}

/// A token that expires during the connection: until then messages are handled; after, a
/// message gets `token_expired` (and is not handled) and the connection is closed. Room
/// broadcasts stop reaching it too (its record expires with the token).
#[tokio::test]
async fn a_token_that_expires_mid_connection_ends_it() {
    let emulator = start_chat_with(JwtAuth::hs256(SECRET).leeway(std::time::Duration::ZERO)).await;
    let short = hs256(&claims(json!({"exp": now() + 2})), SECRET);
    let mut ana = Client::try_connect(&format!("{}/?token={short}", emulator.url()))
        .await
        .unwrap();
    assert_eq!(ana.whoami().await["name"], "Ana");
    tokio::time::sleep(std::time::Duration::from_millis(2_200)).await;
    ana.send_json(json!({"action": "whoami", "requestId": 9}))
        .await;
    let frame = ana.recv_json().await;
    assert_eq!(
        (frame["code"].as_str(), frame["requestId"].as_u64()),
        (Some("token_expired"), Some(9)),
        "{frame}"
    );
    let (code, _) = ana.closed().await;
    assert_eq!(code, 1000);
    // Nothing of it is left to reach.
    lift_tests::eventually("the connection is gone", || async {
        emulator.connection_ids().is_empty()
    })
    .await;
}

/// A fresh token presented on the open connection (`lift:token`) keeps it going past the first
/// one's expiry; a token of another subject, or one that does not verify, is refused and
/// changes nothing.
#[tokio::test]
async fn a_fresh_token_on_the_open_connection_keeps_it_going() {
    let emulator = start_chat_with(JwtAuth::hs256(SECRET).leeway(std::time::Duration::ZERO)).await;
    let short = hs256(&claims(json!({"exp": now() + 2})), SECRET);
    let mut ana = Client::try_connect(&format!("{}/?token={short}", emulator.url()))
        .await
        .unwrap();
    let refresh = |token: String| json!({"action": "lift:token", "token": token, "requestId": 1});
    // Another subject, and a bad signature: refused, the connection goes on.
    let other = hs256(&claims(json!({"sub": "u-2"})), SECRET);
    ana.send_json(refresh(other)).await;
    assert_eq!(ana.recv_json().await["code"], "token_subject");
    let forged = hs256(
        &claims(json!({})),
        b"another secret, just as long as the real one",
    );
    ana.send_json(refresh(forged)).await;
    assert_eq!(ana.recv_json().await["code"], "unauthorized");
    // A fresh token of the same subject.
    let exp = now() + 600;
    let fresh = hs256(&claims(json!({"exp": exp, "name": "Ana Fresh"})), SECRET);
    ana.send_json(refresh(fresh)).await;
    assert_eq!(
        ana.recv_json().await,
        json!({"type": "token", "exp": exp, "requestId": 1})
    );
    tokio::time::sleep(std::time::Duration::from_millis(2_200)).await;
    let who = ana.whoami().await;
    assert_eq!(who["name"], "Ana", "the user stays the one it connected as");
    let id = who["connectionId"].as_str().unwrap();
    let stored = emulator.store().get(id).await.unwrap().unwrap();
    assert_eq!(stored.metadata["claims"]["name"], "Ana Fresh");
}
