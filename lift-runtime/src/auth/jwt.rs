//! [`JwtAuth`]: JWT authentication on `$connect` (feature `jwt`).

use std::sync::{Arc, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::context::WsContext;
use crate::error::WsError;
use crate::extract::Reply;
use crate::middleware::{Middleware, Next};
use crate::route_key::RouteKey;
use crate::router::{BoxFuture, HandlerResult};

/// JWT authentication on `$connect`, as a middleware.
///
/// ```no_run
/// use lift_runtime::auth::JwtAuth;
/// # use lift_runtime::prelude::*;
/// # #[ws_app] mod app { use lift_runtime::prelude::*; #[ws_default] async fn d() -> WsResult { Ok(()) } }
///
/// let auth = JwtAuth::hs256(b"a secret of at least 32 bytes......")
///     .issuer("https://auth.example.com/")
///     .audience("chat");
/// let app = lift_runtime::App::new(app::router()).middleware(auth);
/// # let _ = app;
/// ```
///
/// On `$connect` the token is taken from, in order: the `token` query parameter, the
/// `Authorization: Bearer ...` header, or the `Sec-WebSocket-Protocol` header (browsers cannot set
/// headers on a WebSocket: `new WebSocket(url, ["bearer", token])`; the other protocol offered,
/// here `bearer`, is echoed in the `$connect` response as API Gateway requires). The token must
/// be signed with the configured key and algorithm: one key given in code ([`hs256`](Self::hs256),
/// [`rs256_pem`](Self::rs256_pem)), or the keys a provider publishes ([`jwks`](Self::jwks),
/// [`oidc`](Self::oidc), [`cognito`](Self::cognito)); `alg: none` and any algorithm the key does
/// not sign with are refused, so a public key cannot be used as an HMAC secret. It must not be
/// expired nor used before its `nbf` (with [`leeway`](Self::leeway), 30 seconds by default), and
/// must match the issuer and audience when they are configured.
///
/// A missing or invalid token refuses the handshake with 401 and nothing is stored. A valid
/// token's claims are saved with the connection (under `claims` in its metadata) and
/// [`WsContext::identity`](crate::WsContext::identity) returns them on every later event, read
/// lazily from the store. The token itself is never logged.
///
/// **Tokens expire during connections.** The connection's record expires with its token (its
/// `exp` and the leeway), so room broadcasts stop reaching it then. A later message gets the
/// error frame `token_expired` (status 401; the message is not handled) and the connection is
/// closed. Before that, the client presents a fresh token on the open connection:
/// `{"action":"lift:token","token":"..."}`, checked like the first and bound to the same `sub`
/// (else `403 token_subject`), answered `{"type":"token","exp":N}`; the record then lasts until
/// the new token expires. The generated TypeScript client does it by itself with its
/// `getToken` option. Checking a message costs one store read per connection and Lambda
/// instance (then remembered until the token expires); `lift:token` costs a read, the
/// record's write, and the expiry moved on its memberships.
#[derive(Clone)]
pub struct JwtAuth {
    inner: Arc<Inner>,
}

struct Inner {
    keys: Keys,
    validation: Validation,
    query_param: String,
    /// When each connection seen on this instance expires (its token's `exp`), so most
    /// messages need no store read to be checked.
    live: std::sync::Mutex<std::collections::HashMap<String, SystemTime>>,
    /// A Cognito user pool's app client: `token_use` and the client id are checked.
    cognito_client: Option<String>,
}

/// Where the verifying keys come from.
enum Keys {
    /// One key, given in code.
    Static(DecodingKey),
    /// A JSON Web Key Set, fetched and cached.
    #[cfg(any(feature = "lambda", feature = "local"))]
    Remote(super::jwks::RemoteKeys),
}

impl JwtAuth {
    fn with_keys(keys: Keys, algorithms: &[Algorithm]) -> Self {
        let mut validation = Validation::new(algorithms[0]);
        validation.algorithms = algorithms.to_vec();
        validation.validate_aud = false;
        validation.validate_nbf = true;
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp"]);
        JwtAuth {
            inner: Arc::new(Inner {
                keys,
                validation,
                query_param: "token".to_owned(),
                live: std::sync::Mutex::default(),
                cognito_client: None,
            }),
        }
    }

    fn new(key: DecodingKey, algorithm: Algorithm) -> Self {
        Self::with_keys(Keys::Static(key), &[algorithm])
    }

    /// Tokens signed by a key of the JSON Web Key Set at `url` (RS256/384/512, PS256/384/512,
    /// ES256, ES384 or EdDSA, as each key allows; the key named by the token's `kid`). The set
    /// is fetched on the first `$connect` and cached for [`jwks_cache`](Self::jwks_cache) (10
    /// minutes); a token naming a key the cache does not have fetches it again at once, at most
    /// every 30 seconds, so keys that rotate are picked up and a flood of bad tokens cannot
    /// make the function hammer the provider. A key removed from the set stops being accepted
    /// when the cache's lifetime is over. HMAC keys in a set are ignored. Needs the HTTP client
    /// of feature `lambda` or `local`.
    ///
    /// ```no_run
    /// # use lift_runtime::auth::JwtAuth;
    /// let auth = JwtAuth::jwks("https://auth.example.com/.well-known/jwks.json")
    ///     .issuer("https://auth.example.com/")
    ///     .audience("chat");
    /// # let _ = auth;
    /// ```
    #[cfg(any(feature = "lambda", feature = "local"))]
    pub fn jwks(url: &str) -> Self {
        Self::remote(super::jwks::Source::Jwks(url.to_owned()))
    }

    /// Tokens of an OpenID Connect provider (Auth0, Okta, Entra ID, Google, Keycloak...): its
    /// keys from the `jwks_uri` of `{issuer}/.well-known/openid-configuration`, as
    /// [`jwks`](Self::jwks) uses them, and `iss` must be `issuer`.
    ///
    /// ```no_run
    /// # use lift_runtime::auth::JwtAuth;
    /// let auth = JwtAuth::oidc("https://example.eu.auth0.com/").audience("https://chat.example.com");
    /// # let _ = auth;
    /// ```
    #[cfg(any(feature = "lambda", feature = "local"))]
    pub fn oidc(issuer: &str) -> Self {
        Self::remote(super::jwks::Source::Issuer(issuer.to_owned())).issuer(issuer)
    }

    /// Tokens of an Amazon Cognito user pool, for one app client: keys from the pool's JWKS,
    /// `iss` the pool's (`https://cognito-idp.{region}.amazonaws.com/{pool_id}`), `token_use`
    /// `id` (with `aud` the client id) or `access` (with `client_id` the client id).
    ///
    /// ```no_run
    /// # use lift_runtime::auth::JwtAuth;
    /// let auth = JwtAuth::cognito("eu-west-1", "eu-west-1_AbCdEf123", "4lc8a2p3bmd8e8r0nbs0fuiiqg");
    /// # let _ = auth;
    /// ```
    #[cfg(any(feature = "lambda", feature = "local"))]
    pub fn cognito(region: &str, pool_id: &str, client_id: &str) -> Self {
        let issuer = format!("https://cognito-idp.{region}.amazonaws.com/{pool_id}");
        let mut auth = Self::remote(super::jwks::Source::Jwks(format!(
            "{issuer}/.well-known/jwks.json"
        )))
        .issuer(&issuer);
        auth.inner_mut().cognito_client = Some(client_id.to_owned());
        auth
    }

    #[cfg(any(feature = "lambda", feature = "local"))]
    fn remote(source: super::jwks::Source) -> Self {
        use Algorithm::*;
        Self::with_keys(
            Keys::Remote(super::jwks::RemoteKeys::new(source)),
            &[
                RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA,
            ],
        )
    }

    /// Fetches the key set from `url` instead of where the constructor said (a proxy, a
    /// mirror, a local stand-in); the issuer checks stay. No effect on a static key.
    #[cfg(any(feature = "lambda", feature = "local"))]
    pub fn jwks_url(mut self, url: &str) -> Self {
        if let Keys::Remote(keys) = &mut self.inner_mut().keys {
            keys.set_source(super::jwks::Source::Jwks(url.to_owned()));
        }
        self
    }

    /// How long a fetched key set is used before it is fetched again (default 10 minutes):
    /// how long a key removed from the set is still accepted.
    #[cfg(any(feature = "lambda", feature = "local"))]
    pub fn jwks_cache(mut self, lifetime: std::time::Duration) -> Self {
        if let Keys::Remote(keys) = &mut self.inner_mut().keys {
            keys.ttl = lifetime;
        }
        self
    }

    /// The clock skew allowed when checking `exp` and `nbf` (default 30 seconds).
    pub fn leeway(mut self, leeway: std::time::Duration) -> Self {
        self.inner_mut().validation.leeway = leeway.as_secs();
        self
    }

    /// Tokens signed with HMAC-SHA256 and this secret.
    pub fn hs256(secret: &[u8]) -> Self {
        Self::new(DecodingKey::from_secret(secret), Algorithm::HS256)
    }

    /// Tokens signed with RSA-SHA256; `public_key_pem` is the PEM public key.
    pub fn rs256_pem(public_key_pem: &[u8]) -> Result<Self, crate::Error> {
        let key = DecodingKey::from_rsa_pem(public_key_pem)?;
        Ok(Self::new(key, Algorithm::RS256))
    }

    fn inner_mut(&mut self) -> &mut Inner {
        Arc::get_mut(&mut self.inner).expect("configured before it is shared")
    }

    /// Requires this `iss` claim.
    pub fn issuer(mut self, issuer: &str) -> Self {
        self.inner_mut().validation.set_issuer(&[issuer]);
        self
    }

    /// Requires this `aud` claim.
    pub fn audience(mut self, audience: &str) -> Self {
        let validation = &mut self.inner_mut().validation;
        validation.validate_aud = true;
        validation.set_audience(&[audience]);
        self
    }

    /// Takes the token from this query parameter instead of `token`.
    pub fn query_param(mut self, name: &str) -> Self {
        self.inner_mut().query_param = name.to_owned();
        self
    }
}

impl std::fmt::Debug for JwtAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtAuth")
            .field("algorithms", &self.inner.validation.algorithms)
            .field(
                "keys",
                &match &self.inner.keys {
                    Keys::Static(_) => "static",
                    #[cfg(any(feature = "lambda", feature = "local"))]
                    Keys::Remote(_) => "JWKS",
                },
            )
            .field("query_param", &self.inner.query_param)
            .finish_non_exhaustive()
    }
}

/// Where the token came from, and the subprotocol to echo if it was `Sec-WebSocket-Protocol`.
struct Found {
    token: String,
    protocol: Option<String>,
}

fn looks_like_jwt(value: &str) -> bool {
    value.split('.').count() == 3 && value.len() > 10
}

impl Inner {
    fn find(&self, ctx: &WsContext) -> Option<Found> {
        if let Some(token) = ctx.query(&self.query_param).filter(|t| !t.is_empty()) {
            return Some(Found {
                token: token.to_owned(),
                protocol: None,
            });
        }
        if let Some(header) = ctx.header("authorization") {
            let token = header
                .strip_prefix("Bearer ")
                .or_else(|| header.strip_prefix("bearer "))?;
            return Some(Found {
                token: token.trim().to_owned(),
                protocol: None,
            });
        }
        let offered: Vec<&str> = ctx
            .header("sec-websocket-protocol")?
            .split(',')
            .map(str::trim)
            .collect();
        let token = offered.iter().find(|p| looks_like_jwt(p))?;
        let echo = offered.iter().find(|p| !looks_like_jwt(p)).unwrap_or(token);
        Some(Found {
            token: (*token).to_owned(),
            protocol: Some((*echo).to_owned()),
        })
    }

    /// The token's claims, or why it is refused (for the log; never the token).
    async fn verify(&self, token: &str) -> Result<Value, String> {
        let claims = match &self.keys {
            Keys::Static(key) => {
                jsonwebtoken::decode::<Value>(token, key, &self.validation)
                    .map_err(|err| err.to_string())?
                    .claims
            }
            #[cfg(any(feature = "lambda", feature = "local"))]
            Keys::Remote(keys) => {
                let header = jsonwebtoken::decode_header(token).map_err(|err| err.to_string())?;
                if !self.validation.algorithms.contains(&header.alg) {
                    return Err(format!("the algorithm {:?} is not accepted", header.alg));
                }
                let key = keys.key(header.kid.as_deref(), header.alg).await?;
                let mut validation = self.validation.clone();
                validation.algorithms = vec![header.alg];
                jsonwebtoken::decode::<Value>(token, &key, &validation)
                    .map_err(|err| err.to_string())?
                    .claims
            }
        };
        if let Some(client) = &self.cognito_client {
            check_cognito(&claims, client)?;
        }
        Ok(claims)
    }

    /// Whether `ctx` is a message that is not a token: the one kind of event that only asks
    /// whether the connection's token is still live ([`message`](Self::message)).
    fn is_plain_message(ctx: &WsContext) -> bool {
        match ctx.route() {
            RouteKey::Message(key) => key != RouteKey::TOKEN,
            RouteKey::Default => !names_token_route(ctx.body()),
            RouteKey::Connect | RouteKey::Disconnect => false,
        }
    }

    /// A message: handled while the connection's token is live, else refused (and the
    /// connection closed). Its own future, small: every message of the connection makes one.
    async fn message(&self, ctx: &mut WsContext, next: Next<'_>) -> HandlerResult {
        if !self.live(ctx).await? {
            return Box::pin(self.expired(ctx)).await;
        }
        next.run(ctx).await
    }

    async fn run(&self, ctx: &mut WsContext, next: Next<'_>) -> HandlerResult {
        match ctx.route() {
            RouteKey::Connect => {}
            RouteKey::Disconnect => {
                self.forget(ctx.connection_id());
                return next.run(ctx).await;
            }
            RouteKey::Message(key) if key == RouteKey::TOKEN => return self.refresh(ctx).await,
            // A stage deployed without the token route sends it to `$default`.
            RouteKey::Default if names_token_route(ctx.body()) => return self.refresh(ctx).await,
            _ => return self.message(ctx, next).await,
        }
        let found = self.find(ctx);
        // Verified by this function as the `$connect` authorizer: API Gateway passes the claims
        // on, so the token is not verified again.
        let verified = crate::inbound::claims_of(ctx.fields());
        let Some(found) = found else {
            if let Some(claims) = verified {
                return self.accept(ctx, claims, None, next).await;
            }
            tracing::info!("connection refused: no token");
            return Err(WsError::unauthorized("a token is required"));
        };
        let verified = match verified {
            Some(claims) => Ok(claims),
            None => self.verify(&found.token).await,
        };
        match verified {
            Ok(claims) => self.accept(ctx, claims, found.protocol, next).await,
            Err(reason) => {
                // The reason, never the token.
                tracing::info!(%reason, "connection refused: invalid token");
                Err(WsError::unauthorized("the token is not valid"))
            }
        }
    }
}

impl Inner {
    /// A `$connect` with a valid token: its claims kept with the connection, which expires with
    /// the token; the subprotocol the token came in echoed.
    async fn accept(
        &self,
        ctx: &mut WsContext,
        claims: Value,
        protocol: Option<String>,
        next: Next<'_>,
    ) -> HandlerResult {
        if let Some(protocol) = protocol {
            ctx.set_response_header("sec-websocket-protocol", protocol);
        }
        if let Some(exp) = claims["exp"].as_u64() {
            ctx.expire_by(self.expiry(exp));
        }
        ctx.set_claims(claims);
        next.run(ctx).await
    }

    /// When a connection with a token expiring at `exp` stops counting: then, and the leeway.
    fn expiry(&self, exp: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(exp.saturating_add(self.validation.leeway))
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, SystemTime>> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn forget(&self, id: &str) {
        self.cache().remove(id);
    }

    fn remember(&self, id: &str, until: SystemTime) {
        let mut live = self.cache();
        if live.len() >= 100_000 {
            let now = SystemTime::now();
            live.retain(|_, until| *until > now);
        }
        live.insert(id.to_owned(), until);
    }

    /// Whether the caller's token is still valid: its record (which expires with the token)
    /// is live. Read from the store once per connection and instance, then until it expires.
    async fn live(&self, ctx: &WsContext) -> Result<bool, WsError> {
        let now = SystemTime::now();
        let id = ctx.connection_id();
        if self.cache().get(id).is_some_and(|until| *until > now) {
            return Ok(true);
        }
        match ctx.connection().await? {
            Some(connection) => {
                self.remember(id, connection.expires_at);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// A message after the token expired: an error frame `token_expired` (the message is not
    /// handled), then the connection is closed.
    async fn expired(&self, ctx: &WsContext) -> HandlerResult {
        self.forget(ctx.connection_id());
        tracing::info!("token expired: the message is refused and the connection closed");
        let err = WsError::new(
            401,
            "token_expired",
            "the token has expired: connect again with a fresh one (or present one on `lift:token` before it expires)",
        );
        let mut frame = err.to_frame();
        if let Some(id) = crate::inbound::request_id(ctx.body()) {
            frame = crate::inbound::with_request_id(frame, &id);
        }
        if let Err(err) = ctx.send_raw(ctx.connection_id(), frame.as_bytes()).await {
            tracing::debug!(error = %err, "could not tell the client its token expired");
        }
        if let Err(err) = ctx.disconnect(ctx.connection_id()).await {
            tracing::warn!(error = %err, "could not close the connection of an expired token");
        }
        Ok(None)
    }

    /// `{"action":"lift:token","token":"..."}`: a fresh token for the open connection, checked
    /// like the first and bound to the same subject; the connection then lasts until it
    /// expires. Answers `{"type":"token","exp":N}`.
    async fn refresh(&self, ctx: &WsContext) -> HandlerResult {
        #[derive(serde::Deserialize)]
        struct Fresh {
            token: String,
        }
        let fresh: Fresh = serde_json::from_str(ctx.body().unwrap_or_default())
            .map_err(|_| WsError::bad_request("send {\"token\": \"<a fresh token>\"}"))?;
        let claims = self.verify(&fresh.token).await.map_err(|reason| {
            tracing::info!(%reason, "fresh token refused");
            WsError::unauthorized("the token is not valid")
        })?;
        let Some(connection) = ctx.connection().await? else {
            return self.expired(ctx).await;
        };
        let mut connection = connection.clone();
        let before = connection.metadata["claims"]["sub"].clone();
        if before != claims["sub"] {
            return Err(WsError::new(
                403,
                "token_subject",
                "the token is for another subject than the connection's",
            ));
        }
        let exp = claims["exp"].as_u64().unwrap_or_default();
        let lifetime = connection.connected_at
            + crate::store::MAX_CONNECTION_LIFETIME
            + crate::store::EXPIRY_SLACK;
        let until = self.expiry(exp).min(lifetime);
        connection.expires_at = until;
        match &mut connection.metadata {
            serde_json::Value::Object(map) => {
                map.insert("claims".into(), claims);
            }
            other => *other = serde_json::json!({ "claims": claims }),
        }
        let store = ctx.store();
        store.save(&connection).await?;
        store.refresh(&connection.id, until).await?;
        self.remember(&connection.id, until);
        tracing::info!(exp, "token refreshed");
        Ok(Some(Reply::text(
            serde_json::json!({"type": "token", "exp": exp}).to_string(),
        )))
    }
}

/// The token route, served by [`JwtAuth`] itself (which answers before any handler): reached
/// only in an app whose `JwtAuth` did not run for it.
pub(crate) static TOKEN_ROUTE: crate::router::RouteInfo = crate::router::RouteInfo {
    key: RouteKey::TOKEN,
    kind: crate::route_key::RouteKind::Message,
    reply: false,
    message_schema: no_schema,
    reply_schema: no_schema,
    call: no_token_auth,
};

fn no_schema() -> Option<Value> {
    None
}

fn no_token_auth(_ctx: &mut WsContext) -> BoxFuture<'_, HandlerResult> {
    Box::pin(async {
        Err(WsError::not_found(
            "no token authentication runs for this route",
        ))
    })
}

/// Whether a `$default` body asks for the token route (`{"action":"lift:token",...}`).
fn names_token_route(body: Option<&str>) -> bool {
    body.is_some_and(|body| body.contains(RouteKey::TOKEN))
        && body
            .and_then(|body| serde_json::from_str::<Value>(body).ok())
            .is_some_and(|value| value["action"] == RouteKey::TOKEN)
}

/// A Cognito token's use and client: an ID token for the client (`aud`), or an access token
/// issued to it (`client_id`).
fn check_cognito(claims: &Value, client: &str) -> Result<(), String> {
    match claims["token_use"].as_str() {
        Some("id") if claims["aud"] == client => Ok(()),
        Some("access") if claims["client_id"] == client => Ok(()),
        Some("id" | "access") => Err("the token is for another app client".into()),
        _ => Err("the token is not a Cognito ID or access token (`token_use`)".into()),
    }
}

impl<'a> Middleware<'a> for JwtAuth {
    type Future = BoxFuture<'a, HandlerResult>;

    fn call(&self, ctx: &'a mut WsContext, next: Next<'a>) -> Self::Future {
        let inner = self.inner.clone();
        // A message's future holds only what a message needs: `run`'s holds `$connect`'s
        // verification (a key set's fetch, for one), and is over a kilobyte.
        if Inner::is_plain_message(ctx) {
            return Box::pin(async move { inner.message(ctx, next).await });
        }
        Box::pin(async move { inner.run(ctx, next).await })
    }
}
