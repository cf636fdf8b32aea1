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
/// be signed with the configured algorithm (HS256 or RS256; `alg: none` and any other algorithm
/// are refused, so a public RSA key cannot be used as an HMAC secret), not expired, and match the
/// issuer and audience when they are configured.
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
    key: DecodingKey,
    validation: Validation,
    query_param: String,
}

impl JwtAuth {
    fn new(key: DecodingKey, algorithm: Algorithm) -> Self {
        let mut validation = Validation::new(algorithm);
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp"]);
        JwtAuth {
            inner: Arc::new(Inner {
                key,
                validation,
                query_param: "token".to_owned(),
            }),
        }
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

    fn verify(&self, token: &str) -> Result<Value, jsonwebtoken::errors::Error> {
        jsonwebtoken::decode::<Value>(token, &self.key, &self.validation).map(|data| data.claims)
    }

    async fn run(&self, ctx: &mut WsContext, next: Next<'_>) -> HandlerResult {
        if *ctx.route() != RouteKey::Connect {
            return next.run(ctx).await;
        }
        let Some(found) = self.find(ctx) else {
            tracing::info!("connection refused: no token");
            return Err(WsError::unauthorized("a token is required"));
        };
        match self.verify(&found.token) {
            Ok(claims) => {
                if let Some(protocol) = found.protocol {
                    ctx.set_response_header("sec-websocket-protocol", protocol);
                }
                ctx.set_claims(claims);
                next.run(ctx).await
            }
            Err(err) => {
                // The reason, never the token.
                tracing::info!(reason = %err, "connection refused: invalid token");
                Err(WsError::unauthorized("the token is not valid"))
            }
        }
    }
}

impl<'a> Middleware<'a> for JwtAuth {
    type Future = BoxFuture<'a, HandlerResult>;

    fn call(&self, ctx: &'a mut WsContext, next: Next<'a>) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(async move { inner.run(ctx, next).await })
    }
}
