//! Keys a provider publishes: `JwtAuth::jwks`, `oidc` (discovery) and `cognito`, against a
//! JWKS/OIDC server in this test, with keys and tokens made by PyJWT and cryptography (Python,
//! libraries no one here wrote: `tests/support/jwt_tokens.py`; `scripts/test` installs them).
//! RS256, ES256 and EdDSA; `iss`, `aud`, `exp`, `nbf`; keys that rotate (an unknown `kid`
//! fetches the set again, at most once per interval) and keys removed from the set (refused once
//! the cache's lifetime is over). Each `$connect` goes through the Lambda path.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::routing::get;
use axum::Json;
use lift_runtime::auth::JwtAuth;
use lift_runtime::App;
use lift_tests::events::{connect_event_for, message_event};
use serde_json::{json, Value};

#[lift_runtime::ws_app]
mod app {
    use lift_runtime::prelude::*;

    /// The caller's claims.
    #[ws_route("whoami", reply)]
    async fn whoami(ctx: &WsContext) -> WsResult<Reply> {
        let claims = ctx.identity().await?.unwrap_or_default();
        Ok(Reply::text(claims.to_string()))
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Keys and tokens from PyJWT: `keys` as (kid, kty), `tokens` as name → (kid, alg, claims),
/// optionally signed by another key than the one the header names (`signed_by`).
struct Made {
    jwks: HashMap<String, Value>,
    tokens: HashMap<String, String>,
}

fn make(keys: &[(&str, &str)], tokens: Value) -> Made {
    let spec = json!({
        "keys": keys.iter().map(|(kid, kty)| json!({"kid": kid, "kty": kty})).collect::<Vec<_>>(),
        "tokens": tokens,
    });
    let script = format!("{}/support/jwt_tokens.py", env!("CARGO_MANIFEST_DIR"));
    let mut child = std::process::Command::new("python3")
        .arg(&script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(spec.to_string().as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{script} failed (pip install 'pyjwt[crypto]'; scripts/test does)"
    );
    let made: Value = serde_json::from_slice(&out.stdout).unwrap();
    Made {
        jwks: serde_json::from_value(made["jwks"].clone()).unwrap(),
        tokens: serde_json::from_value(made["tokens"].clone()).unwrap(),
    }
}

/// A JWKS and OpenID Connect discovery server; counts the fetches of each.
#[derive(Clone, Default)]
struct Provider {
    keys: Arc<Mutex<Vec<Value>>>,
    base: Arc<Mutex<String>>,
    jwks_fetches: Arc<AtomicUsize>,
    discovery_fetches: Arc<AtomicUsize>,
}

impl Provider {
    async fn start(keys: Vec<Value>) -> Provider {
        let provider = Provider::default();
        *provider.keys.lock().unwrap() = keys;
        let routes = axum::Router::new()
            .route(
                "/jwks.json",
                get(|State(p): State<Provider>| async move {
                    p.jwks_fetches.fetch_add(1, Ordering::SeqCst);
                    Json(json!({"keys": *p.keys.lock().unwrap()}))
                }),
            )
            .route(
                "/.well-known/openid-configuration",
                get(|State(p): State<Provider>| async move {
                    p.discovery_fetches.fetch_add(1, Ordering::SeqCst);
                    let base = p.base.lock().unwrap().clone();
                    Json(json!({"issuer": base, "jwks_uri": format!("{base}/jwks.json")}))
                }),
            )
            .with_state(provider.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        *provider.base.lock().unwrap() = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, routes).await });
        provider
    }

    fn base(&self) -> String {
        self.base.lock().unwrap().clone()
    }

    fn set_keys(&self, keys: Vec<Value>) {
        *self.keys.lock().unwrap() = keys;
    }

    fn fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }
}

async fn service(auth: JwtAuth) -> lift_runtime::Service {
    lift_tests::init_tracing();
    App::new(app::router())
        .middleware(auth)
        .settings(lift_tests::endpoint("http://127.0.0.1:9/unused"))
        .service()
        .await
        .expect("the app's service")
}

/// `$connect` with `?token=`: its status, and on 200 the claims `whoami` reads back.
async fn connect(service: &lift_runtime::Service, token: &str) -> (i64, Value) {
    static N: AtomicUsize = AtomicUsize::new(0);
    let id = format!("jwks{}=", N.fetch_add(1, Ordering::SeqCst));
    let mut event = connect_event_for(&id);
    event["queryStringParameters"]["token"] = token.into();
    let response = lift_tests::handle_json(service, event).await;
    if response.status_code != 200 {
        return (response.status_code, Value::Null);
    }
    let reply = lift_tests::handle_json(
        service,
        message_event(&id, "whoami", r#"{"action":"whoami"}"#),
    )
    .await;
    let body = match reply.body {
        Some(aws_lambda_events::encodings::Body::Text(text)) => text,
        other => panic!("no reply: {other:?}"),
    };
    (200, serde_json::from_str(&body).unwrap())
}

fn claims(iss: &str, extra: Value) -> Value {
    let mut claims = json!({"sub": "u-1", "iss": iss, "aud": "chat", "exp": now() + 600});
    claims
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    claims
}

#[tokio::test]
async fn rsa_ec_and_ed25519_keys_of_a_jwks_verify_what_pyjwt_signed() {
    let iss = "https://issuer.test/";
    let made = make(
        &[
            ("rsa-1", "RSA"),
            ("ec-1", "EC"),
            ("ed-1", "OKP"),
            ("rogue", "RSA"),
        ],
        json!({
            "rs256": {"kid": "rsa-1", "alg": "RS256", "claims": claims(iss, json!({"name": "rsa"}))},
            "es256": {"kid": "ec-1", "alg": "ES256", "claims": claims(iss, json!({"name": "ec"}))},
            "eddsa": {"kid": "ed-1", "alg": "EdDSA", "claims": claims(iss, json!({"name": "ed"}))},
            "ps256": {"kid": "rsa-1", "alg": "PS256", "claims": claims(iss, json!({}))},
            "expired": {"kid": "rsa-1", "alg": "RS256", "claims": claims(iss, json!({"exp": now() - 120}))},
            "within_leeway": {"kid": "rsa-1", "alg": "RS256", "claims": claims(iss, json!({"exp": now() - 5}))},
            "not_yet": {"kid": "rsa-1", "alg": "RS256", "claims": claims(iss, json!({"nbf": now() + 300}))},
            "other_issuer": {"kid": "rsa-1", "alg": "RS256", "claims": claims("https://evil.test/", json!({}))},
            "other_audience": {"kid": "rsa-1", "alg": "RS256", "claims": claims(iss, json!({"aud": "other"}))},
            "forged": {"kid": "rsa-1", "signed_by": "rogue", "alg": "RS256", "claims": claims(iss, json!({}))},
            "wrong_key_type": {"kid": "ec-1", "signed_by": "rsa-1", "alg": "RS256", "claims": claims(iss, json!({}))},
        }),
    );
    // The rogue key is not published.
    let published: Vec<Value> = ["rsa-1", "ec-1", "ed-1"]
        .iter()
        .map(|kid| made.jwks[*kid].clone())
        .collect();
    let provider = Provider::start(published).await;
    let service = service(
        JwtAuth::jwks(&format!("{}/jwks.json", provider.base()))
            .issuer(iss)
            .audience("chat"),
    )
    .await;
    for (token, name) in [("rs256", "rsa"), ("es256", "ec"), ("eddsa", "ed")] {
        let (status, claims) = connect(&service, &made.tokens[token]).await;
        assert_eq!(status, 200, "{token}");
        assert_eq!(claims["name"], name, "{token}");
    }
    // An RSA key signs PS256 too when its JWK does not say otherwise... here it says RS256.
    assert_eq!(connect(&service, &made.tokens["ps256"]).await.0, 401);
    assert_eq!(
        connect(&service, &made.tokens["within_leeway"]).await.0,
        200
    );
    for refused in [
        "expired",
        "not_yet",
        "other_issuer",
        "other_audience",
        "forged",
        "wrong_key_type",
    ] {
        assert_eq!(
            connect(&service, &made.tokens[refused]).await.0,
            401,
            "{refused}"
        );
    }
    // An HMAC token naming a published key: the public key is never an HMAC secret.
    let public_n = made.jwks["rsa-1"]["n"].as_str().unwrap();
    let hmac = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            kid: Some("rsa-1".into()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        },
        &claims(iss, json!({})),
        &jsonwebtoken::EncodingKey::from_secret(public_n.as_bytes()),
    )
    .unwrap();
    assert_eq!(connect(&service, &hmac).await.0, 401);
    assert_eq!(connect(&service, "not.a.token").await.0, 401);
    // One fetch served them all: the set is cached.
    assert_eq!(provider.fetches(), 1);
}

#[tokio::test]
async fn a_rotated_key_is_fetched_once_and_1000_random_kids_fetch_no_more() {
    let iss = "https://issuer.test/";
    let mut tokens = json!({
        "old": {"kid": "old", "alg": "RS256", "claims": claims(iss, json!({}))},
        "new": {"kid": "new", "alg": "ES256", "claims": claims(iss, json!({"name": "rotated"}))},
    });
    // 1,000 tokens, each naming a key of its own that does not exist (signed by a real one).
    let flood = 1_000;
    let seed = now();
    for i in 0..flood {
        let kid = format!(
            "random-{:x}",
            (seed ^ (i * 0x9e37_79b9)).wrapping_mul(0x2545_f491)
        );
        tokens[format!("unknown-{i}")] = json!({"kid": kid, "signed_by": "new", "alg": "ES256", "claims": claims(iss, json!({}))});
    }
    let made = make(&[("old", "RSA"), ("new", "EC")], tokens);
    let provider = Provider::start(vec![made.jwks["old"].clone()]).await;
    let service =
        service(JwtAuth::jwks(&format!("{}/jwks.json", provider.base())).issuer(iss)).await;
    assert_eq!(connect(&service, &made.tokens["old"]).await.0, 200);
    assert_eq!(provider.fetches(), 1);
    // The provider rotates: tokens of the new key come before the cache's lifetime is over.
    provider.set_keys(vec![made.jwks["old"].clone(), made.jwks["new"].clone()]);
    let (status, claims) = connect(&service, &made.tokens["new"]).await;
    assert_eq!((status, claims["name"].as_str()), (200, Some("rotated")));
    assert_eq!(
        provider.fetches(),
        2,
        "the unknown kid fetched the set again"
    );
    // A flood of tokens naming random keys that do not exist: refused, and no fetch more (the
    // next is allowed 30 s after the last).
    for i in 0..flood {
        let token = &made.tokens[&format!("unknown-{i}")];
        assert_eq!(connect(&service, token).await.0, 401);
    }
    assert_eq!(provider.fetches(), 2, "fetches are rate-limited");
}

#[tokio::test]
async fn a_key_removed_from_the_set_is_refused_once_the_cache_lifetime_is_over() {
    let iss = "https://issuer.test/";
    let made = make(
        &[("gone", "OKP"), ("kept", "RSA")],
        json!({
            "gone": {"kid": "gone", "alg": "EdDSA", "claims": claims(iss, json!({}))},
            "kept": {"kid": "kept", "alg": "RS256", "claims": claims(iss, json!({}))},
        }),
    );
    let provider =
        Provider::start(vec![made.jwks["gone"].clone(), made.jwks["kept"].clone()]).await;
    let service = service(
        JwtAuth::jwks(&format!("{}/jwks.json", provider.base()))
            .issuer(iss)
            .jwks_cache(Duration::from_millis(800)),
    )
    .await;
    assert_eq!(connect(&service, &made.tokens["gone"]).await.0, 200);
    provider.set_keys(vec![made.jwks["kept"].clone()]);
    // Still cached.
    assert_eq!(connect(&service, &made.tokens["gone"]).await.0, 200);
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(connect(&service, &made.tokens["gone"]).await.0, 401);
    assert_eq!(connect(&service, &made.tokens["kept"]).await.0, 200);
    assert_eq!(provider.fetches(), 2);
}

#[tokio::test]
async fn an_oidc_issuer_is_discovered_and_its_issuer_required() {
    let provider = Provider::start(Vec::new()).await;
    let issuer = provider.base();
    let made = make(
        &[("k1", "RSA")],
        json!({
            "good": {"kid": "k1", "alg": "RS256", "claims": claims(&issuer, json!({"name": "oidc"}))},
            "other_issuer": {"kid": "k1", "alg": "RS256", "claims": claims("https://elsewhere.test", json!({}))},
        }),
    );
    provider.set_keys(vec![made.jwks["k1"].clone()]);
    let service = service(JwtAuth::oidc(&issuer).audience("chat")).await;
    let (status, claims) = connect(&service, &made.tokens["good"]).await;
    assert_eq!((status, claims["name"].as_str()), (200, Some("oidc")));
    assert_eq!(connect(&service, &made.tokens["other_issuer"]).await.0, 401);
    assert_eq!(provider.discovery_fetches.load(Ordering::SeqCst), 1);
    assert_eq!(provider.fetches(), 1);
}

#[tokio::test]
async fn a_cognito_pool_checks_the_token_use_and_the_app_client() {
    let issuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool";
    let cognito = |extra: Value| {
        let mut claims = json!({"sub": "u-1", "iss": issuer, "exp": now() + 600});
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        claims
    };
    let made = make(
        &[("c1", "RSA")],
        json!({
            "id": {"kid": "c1", "alg": "RS256", "claims": cognito(json!({"token_use": "id", "aud": "client-1", "cognito:username": "ana"}))},
            "access": {"kid": "c1", "alg": "RS256", "claims": cognito(json!({"token_use": "access", "client_id": "client-1"}))},
            "id_other_client": {"kid": "c1", "alg": "RS256", "claims": cognito(json!({"token_use": "id", "aud": "client-2"}))},
            "access_other_client": {"kid": "c1", "alg": "RS256", "claims": cognito(json!({"token_use": "access", "client_id": "client-2"}))},
            "no_use": {"kid": "c1", "alg": "RS256", "claims": cognito(json!({"aud": "client-1"}))},
            "other_pool": {"kid": "c1", "alg": "RS256", "claims": {"sub": "u-1", "iss": "https://cognito-idp.eu-west-1.amazonaws.com/other", "token_use": "id", "aud": "client-1", "exp": now() + 600}},
        }),
    );
    let provider = Provider::start(vec![made.jwks["c1"].clone()]).await;
    let service = service(
        JwtAuth::cognito("eu-west-1", "eu-west-1_TestPool", "client-1")
            .jwks_url(&format!("{}/jwks.json", provider.base())),
    )
    .await;
    let (status, claims) = connect(&service, &made.tokens["id"]).await;
    assert_eq!(
        (status, claims["cognito:username"].as_str()),
        (200, Some("ana"))
    );
    assert_eq!(connect(&service, &made.tokens["access"]).await.0, 200);
    for refused in [
        "id_other_client",
        "access_other_client",
        "no_use",
        "other_pool",
    ] {
        assert_eq!(
            connect(&service, &made.tokens[refused]).await.0,
            401,
            "{refused}"
        );
    }
}

/// The chat reads its token check from its settings: an OIDC issuer alone, or a JWKS URL with
/// the issuer required, and an audience; the name comes from the token.
#[tokio::test]
async fn the_chat_takes_an_oidc_issuer_or_a_jwks_url_from_its_settings() {
    use lift_tests::chat_app;
    let provider = Provider::start(Vec::new()).await;
    let issuer = provider.base();
    let made = make(
        &[("k1", "EC")],
        json!({
            "good": {"kid": "k1", "alg": "ES256", "claims": claims(&issuer, json!({"name": "Ana"}))},
            "other_audience": {"kid": "k1", "alg": "ES256", "claims": claims(&issuer, json!({"aud": "billing"}))},
        }),
    );
    provider.set_keys(vec![made.jwks["k1"].clone()]);
    let jwks_url = format!("{issuer}/jwks.json");
    for settings in [
        vec![
            ("LIFT_JWT_ISSUER", issuer.as_str()),
            ("LIFT_JWT_AUDIENCE", "chat"),
        ],
        vec![
            ("LIFT_JWT_JWKS_URL", jwks_url.as_str()),
            ("LIFT_JWT_ISSUER", issuer.as_str()),
            ("LIFT_JWT_AUDIENCE", "chat"),
        ],
    ] {
        let settings: HashMap<&str, &str> = settings.into_iter().collect();
        let auth = chat_app::token_check(|name| settings.get(name).map(|v| (*v).to_owned()))
            .expect("a token check");
        let service = App::new(chat_app::chat::router())
            .middleware(auth)
            .settings(lift_tests::endpoint("http://127.0.0.1:9/unused"))
            .service()
            .await
            .unwrap();
        let mut event = connect_event_for("chat-ana=");
        event["queryStringParameters"] = json!({"token": made.tokens["good"]});
        assert_eq!(
            lift_tests::handle_json(&service, event).await.status_code,
            200,
            "{settings:?}"
        );
        let reply = lift_tests::handle_json(
            &service,
            message_event("chat-ana=", "whoami", r#"{"action":"whoami"}"#),
        )
        .await;
        let Some(aws_lambda_events::encodings::Body::Text(body)) = reply.body else {
            panic!("no whoami reply")
        };
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["name"], "Ana");
        let mut event = connect_event_for("chat-other=");
        event["queryStringParameters"] = json!({"token": made.tokens["other_audience"]});
        assert_eq!(
            lift_tests::handle_json(&service, event).await.status_code,
            401
        );
    }
    assert!(
        chat_app::token_check(|_| None).is_none(),
        "no settings, no check"
    );
}
