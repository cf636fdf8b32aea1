//! [`JwtAuth`]: JWT authentication on `$connect` (feature `jwt`).

use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::context::WsContext;
use crate::error::WsError;
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
#[derive(Clone)]
pub struct JwtAuth {
    inner: Arc<Inner>,
}

struct Inner {
    keys: Keys,
    validation: Validation,
    query_param: String,
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

    async fn run(&self, ctx: &mut WsContext, next: Next<'_>) -> HandlerResult {
        if *ctx.route() != RouteKey::Connect {
            return next.run(ctx).await;
        }
        let Some(found) = self.find(ctx) else {
            tracing::info!("connection refused: no token");
            return Err(WsError::unauthorized("a token is required"));
        };
        match self.verify(&found.token).await {
            Ok(claims) => {
                if let Some(protocol) = found.protocol {
                    ctx.set_response_header("sec-websocket-protocol", protocol);
                }
                ctx.set_claims(claims);
                next.run(ctx).await
            }
            Err(reason) => {
                // The reason, never the token.
                tracing::info!(%reason, "connection refused: invalid token");
                Err(WsError::unauthorized("the token is not valid"))
            }
        }
    }
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
        Box::pin(async move { inner.run(ctx, next).await })
    }
}
