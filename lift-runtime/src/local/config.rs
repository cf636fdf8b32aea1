//! [`LocalConfig`]: the emulator's settings; the defaults are API Gateway's.

use std::net::SocketAddr;
use std::time::Duration;

use crate::outbound::MAX_MESSAGE_SIZE;

/// The default address: `127.0.0.1:3001` (override with `LIFT_LOCAL_ADDR`).
pub const DEFAULT_ADDR: &str = "127.0.0.1:3001";

/// Settings of the local emulator. The defaults are API Gateway's.
#[derive(Clone, Debug)]
pub struct LocalConfig {
    /// Where to listen; `None`: `LIFT_LOCAL_ADDR`, else [`DEFAULT_ADDR`]. Port 0 picks a free port.
    pub addr: Option<SocketAddr>,
    /// The stage name used when clients connect on `/`.
    pub stage: String,
    /// The route selection expression, `$request.body.<field>[.<field>...]`.
    pub route_selection: String,
    /// The largest message passed to the app (API Gateway: 128 KB).
    pub max_message_size: usize,
    /// Connections with no message for this long are closed (API Gateway: 10 minutes).
    pub idle_timeout: Duration,
    /// Connections are closed after this long (API Gateway: 2 hours).
    pub max_lifetime: Duration,
    /// How long one event may take (API Gateway's integration timeout: 29 seconds).
    pub invocation_timeout: Duration,
    /// An HTML page served on a plain `GET /` (for example a browser client of the app).
    pub page: Option<String>,
    /// Added to every Management API answer, to emulate the network between a Lambda function
    /// and API Gateway (a few milliseconds in AWS; none locally). Default: none.
    pub management_latency: Duration,
    /// The access keys (id, secret) whose SigV4 signatures the emulator's Management API
    /// accepts; any other request is refused with 403 as in API Gateway. Default: `local` /
    /// `local`, the credentials [`App::service`](crate::App::service) signs with when given no
    /// AWS configuration.
    pub credentials: Vec<(String, String)>,
    /// Whether the Management API checks signatures (default `true`, as API Gateway). Turned
    /// off only to measure unsigned clients against signed ones (the benchmarks).
    pub check_signatures: bool,
    /// What an oversized message does: `false` (the default) as API Gateway, the connection
    /// closed with 1009 when a frame is over 32 KB or a message over 128 KB; `true` an
    /// error frame `message_too_large` and the connection kept open (see
    /// [`lenient_limits`](Self::lenient_limits)).
    pub lenient_limits: bool,
}

impl Default for LocalConfig {
    fn default() -> Self {
        LocalConfig {
            addr: None,
            stage: "local".to_owned(),
            route_selection: "$request.body.action".to_owned(),
            max_message_size: MAX_MESSAGE_SIZE,
            idle_timeout: Duration::from_secs(10 * 60),
            max_lifetime: Duration::from_secs(2 * 60 * 60),
            invocation_timeout: Duration::from_secs(29),
            page: None,
            management_latency: Duration::ZERO,
            credentials: vec![("local".to_owned(), "local".to_owned())],
            check_signatures: true,
            lenient_limits: false,
        }
    }
}

impl LocalConfig {
    /// Answers an oversized message with an error frame `message_too_large` and keeps the
    /// connection open, where API Gateway (and the emulator by default) closes it with 1009:
    /// for a development session that should survive a client's mistake. What your app will
    /// meet in AWS is the default.
    pub fn lenient_limits(mut self) -> Self {
        self.lenient_limits = true;
        self
    }

    /// Listen on this address.
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = Some(addr);
        self
    }

    /// Serve this HTML page on a plain `GET /`.
    pub fn page(mut self, html: impl Into<String>) -> Self {
        self.page = Some(html.into());
        self
    }

    /// Close connections idle for this long.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Close connections open for this long.
    pub fn max_lifetime(mut self, lifetime: Duration) -> Self {
        self.max_lifetime = lifetime;
        self
    }

    /// Accept Management API requests signed with this access key too.
    pub fn credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret: impl Into<String>,
    ) -> Self {
        self.credentials.push((access_key_id.into(), secret.into()));
        self
    }

    /// Accept Management API requests without checking their signatures (see
    /// [`LocalConfig::check_signatures`]).
    pub fn skip_signature_checks(mut self) -> Self {
        self.check_signatures = false;
        self
    }

    /// Delay every Management API answer by `latency` (see [`LocalConfig::management_latency`]).
    pub fn management_latency(mut self, latency: Duration) -> Self {
        self.management_latency = latency;
        self
    }

    /// Route by another body field, e.g. `$request.body.type`.
    pub fn route_selection(mut self, expression: impl Into<String>) -> Self {
        self.route_selection = expression.into();
        self
    }

    /// The body fields the route selection expression reads (`$request.body.a.b` → `["a",
    /// "b"]`); an error for an expression the emulator does not support.
    pub fn selection_path(&self) -> Result<Vec<String>, crate::Error> {
        let path = self
            .route_selection
            .strip_prefix("$request.body.")
            .filter(|rest| !rest.is_empty())
            .ok_or_else(|| {
                format!(
                    "unsupported route selection expression `{}`: use `$request.body.<field>`",
                    self.route_selection
                )
            })?;
        Ok(path.split('.').map(str::to_owned).collect())
    }
}

/// The route API Gateway selects for a message `body`, with the route selection expression's
/// `path` ([`LocalConfig::selection_path`]): the string at that path of the body's JSON, looked
/// up in `router` (`$default` when the body is not JSON, the field is missing or not a string,
/// or no route has that key).
pub fn select_route(path: &[String], router: &crate::Router, body: &str) -> crate::RouteKey {
    let value = serde_json::from_str::<serde_json::Value>(body).ok();
    let selected = value
        .as_ref()
        .and_then(|value| path.iter().try_fold(value, |v, key| v.get(key))?.as_str());
    router.select(selected)
}
