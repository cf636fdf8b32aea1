//! [`AllowedOrigins`]: the pages a browser may open a connection from.

use std::sync::Arc;

use crate::context::WsContext;
use crate::error::WsError;
use crate::middleware::{Middleware, Next};
use crate::route_key::RouteKey;
use crate::router::{BoxFuture, HandlerResult};

/// Refuses a `$connect` whose `Origin` header is not one of the allowed origins, with `403`
/// (`origin_not_allowed`) before any handler runs, and nothing stored.
///
/// Browsers send cookies with a WebSocket handshake from any page, and send the page's origin
/// with it: an app that authenticates connections by cookie must check it, or any site its users
/// visit can open a connection as them (cross-site WebSocket hijacking). Apps that authenticate
/// with a token the page must present ([`JwtAuth`](crate::auth::JwtAuth)) are not exposed that way,
/// but may still want it. Origins are compared as `scheme://host[:port]`, case-insensitively, a
/// trailing `/` ignored. A handshake without an `Origin` (not a browser: a server, a mobile app, a
/// test) is let through, unless [`require_origin`](Self::require_origin).
///
/// ```
/// use lift_runtime::auth::AllowedOrigins;
/// # #[lift_runtime::ws_app] mod app { use lift_runtime::prelude::*; #[ws_default] async fn d() -> WsResult { Ok(()) } }
///
/// // The chat reads them from LIFT_ALLOWED_ORIGINS ("https://a.example,https://b.example").
/// let origins = AllowedOrigins::new("https://chat.example.com, http://localhost:3001".split(','));
/// assert!(origins.allows("https://Chat.Example.com/"));
/// assert!(!origins.allows("https://evil.example"));
/// let app = lift_runtime::App::new(app::router()).middleware(origins);
/// # let _ = app;
/// ```
#[derive(Clone, Debug)]
pub struct AllowedOrigins {
    origins: Arc<[String]>,
    require: bool,
}

/// An origin as compared: trimmed, lower-case, without a trailing `/`.
fn normal(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

impl AllowedOrigins {
    /// Allows these origins (`https://chat.example.com`, `http://localhost:3001`); empty
    /// entries are ignored.
    pub fn new<I, S>(origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let origins: Vec<String> = origins
            .into_iter()
            .map(|origin| normal(origin.as_ref()))
            .filter(|origin| !origin.is_empty())
            .collect();
        AllowedOrigins {
            origins: origins.into(),
            require: false,
        }
    }

    /// Also refuses a handshake without an `Origin` header (`403`): only browsers on the
    /// allowed pages may connect.
    pub fn require_origin(mut self) -> Self {
        self.require = true;
        self
    }

    /// Whether a handshake from `origin` is allowed.
    pub fn allows(&self, origin: &str) -> bool {
        let origin = normal(origin);
        self.origins.contains(&origin)
    }

    fn check(&self, origin: Option<&str>) -> Result<(), WsError> {
        match origin {
            Some(origin) if self.allows(origin) => Ok(()),
            Some(origin) => {
                tracing::info!(origin, "connection refused: origin not allowed");
                Err(WsError::new(
                    403,
                    "origin_not_allowed",
                    "connections from this page are not allowed",
                ))
            }
            None if self.require => {
                tracing::info!("connection refused: no Origin header");
                Err(WsError::new(
                    403,
                    "origin_not_allowed",
                    "connect from a browser page that is allowed",
                ))
            }
            None => Ok(()),
        }
    }
}

impl<'a> Middleware<'a> for AllowedOrigins {
    type Future = BoxFuture<'a, HandlerResult>;

    fn call(&self, ctx: &'a mut WsContext, next: Next<'a>) -> Self::Future {
        let checked = match ctx.route() {
            RouteKey::Connect => self.check(ctx.header("origin")),
            _ => Ok(()),
        };
        Box::pin(async move {
            checked?;
            next.run(ctx).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::AllowedOrigins;

    #[test]
    fn origins_match_scheme_host_and_port_case_insensitively() {
        let origins =
            AllowedOrigins::new(["https://chat.example.com/", " http://localhost:3001 ", ""]);
        assert!(origins.allows("https://chat.example.com"));
        assert!(origins.allows("HTTPS://CHAT.EXAMPLE.COM"));
        assert!(origins.allows("http://localhost:3001"));
        for refused in [
            "http://chat.example.com",
            "https://chat.example.com:8443",
            "https://chat.example.com.evil.example",
            "https://evil.example",
            "null",
            "",
        ] {
            assert!(!origins.allows(refused), "{refused}");
        }
        assert!(origins.check(None).is_ok());
        assert_eq!(
            origins
                .clone()
                .require_origin()
                .check(None)
                .unwrap_err()
                .status(),
            403
        );
        assert_eq!(
            origins
                .check(Some("https://evil.example"))
                .unwrap_err()
                .code(),
            "origin_not_allowed"
        );
    }
}
