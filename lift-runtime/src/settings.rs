//! [`Settings`]: every setting of an app, in one type, and the one place the runtime reads the
//! environment ([`Settings::from_env`]).
//!
//! An app that is given no settings ([`App::settings`](crate::App::settings)) reads them from
//! the environment when it starts; an app that is given settings uses them as they are, so code
//! overrides the environment: start from `Settings::from_env()?` and change what you need.
//!
//! ```
//! use std::time::Duration;
//! use lift_runtime::Settings;
//!
//! # fn demo() -> Result<(), lift_runtime::Error> {
//! let mut settings = Settings::from_env()?;
//! settings.fanout.threshold = 500;
//! settings.local.idle_timeout = Duration::from_secs(60);
//! # Ok(()) }
//! ```
//!
//! # Environment variables
//!
//! | variable | default | what it sets | read by |
//! |---|---|---|---|
//! | `LIFT_TABLE_NAME` | none: a `MemoryStore` | [`Settings::table_name`]: keep connections in this DynamoDB table (created if missing, outside Lambda) | Lambda and the emulator, feature `dynamodb` |
//! | `LIFT_MANAGEMENT_ENDPOINT` | `https://{domainName}/{stage}` of each event | [`Settings::management_endpoint`] (custom domains) | Lambda (the emulator serves its own) |
//! | `LIFT_MANAGEMENT_CA_FILE` | none | [`Settings::management_ca_file`]: a PEM file of CA certificates trusted for a local Management API over HTTPS | the Management API client |
//! | `LIFT_FANOUT_QUEUE_URL` | none: no fan-out in Lambda, an in-process queue in the emulator | [`FanoutSettings::queue_url`] | Lambda, feature `sqs`; the emulator when `AWS_ENDPOINT_URL_SQS` is set too |
//! | `LIFT_FANOUT_THRESHOLD` | 2000 | [`FanoutSettings::threshold`] | fan-out |
//! | `LIFT_FANOUT_RATE` | 10000 | [`FanoutSettings::rate`] | fan-out |
//! | `LIFT_FANOUT_CONSUMERS` | 10 | [`FanoutSettings::consumers`] | fan-out |
//! | `LIFT_FANOUT_EXPIRY_SECS` | 300 | [`FanoutSettings::expiry`] | fan-out |
//! | `LIFT_FANOUT_MAX_RECEIVES` | 3 | [`FanoutSettings::max_receives`] (the queue's `maxReceiveCount`) | fan-out metrics |
//! | `LIFT_SESSION_TTL_SECS` | 7800 (2 h 10 min) | [`Settings::session_ttl`]; `0` turns sessions off | `$connect` |
//! | `LIFT_HISTORY_SECS` | `0` (off) | [`Settings::history`]: how long room broadcasts are kept for replay | room broadcasts, the replay route |
//! | `LIFT_AUTHORIZER` | `0` (off) | [`Settings::authorizer`]: the function is also `$connect`'s Lambda authorizer | the emulator, `your-app template` |
//! | `LIFT_PRESENCE` | `0` (off) | [`Settings::presence`]: rooms told who joins and leaves | joins, leaves, `$disconnect`, the sweep |
//! | `LIFT_LOCAL_ADDR` | `127.0.0.1:3001` | [`LocalSettings::addr`] | the emulator |
//! | `LIFT_LOCAL_STRICT` | `0` (off; on in `TestApp`) | `1`: [`LocalSettings::any_access_key`] off, the Management API accepts only the keys it knows, every signature verified | the emulator |
//! | `RUST_LOG` | `info` | [`Settings::log_filter`] | the log subscriber [`App::run`](crate::App::run) installs |
//! | `AWS_LAMBDA_RUNTIME_API` | unset | set by Lambda: [`App::run`](crate::App::run) runs on `lambda_runtime` rather than the emulator | `App::run`, `App::service` |
//! | `AWS_ENDPOINT_URL_SQS` | unset | with `LIFT_FANOUT_QUEUE_URL`, the emulator fans out through that SQS-compatible server | the emulator, feature `sqs` |
//! | `AWS_ACCESS_KEY_ID`, `AWS_PROFILE`, `AWS_REGION`, `AWS_DEFAULT_REGION` | unset | outside Lambda, when none is set, the AWS clients use placeholder credentials and `us-east-1` (local servers accept any) | the emulator |
//!
//! A variable that is set but empty counts as unset; one that is set to something that is not
//! a number (or an address) is an error naming it. Every other `AWS_*` variable is read by the
//! AWS SDK's own configuration chain, as in any AWS program. (`LIFT_JWT_SECRET` is the chat
//! example's, read by its own `main`.)

use std::net::SocketAddr;
use std::time::Duration;

/// Every setting of an app. [`Default`] is API Gateway's behaviour with nothing configured;
/// [`from_env`](Self::from_env) reads the environment over it (see the [module](self) for the
/// variables). Given to [`App::settings`](crate::App::settings).
#[derive(Clone, Debug)]
pub struct Settings {
    /// The DynamoDB table connections are kept in; `None`: a `MemoryStore` (unless
    /// [`App::store`](crate::App::store) gives one). `LIFT_TABLE_NAME`.
    pub table_name: Option<String>,
    /// The Management API's URL, instead of `https://{domainName}/{stage}` from each event
    /// (needed behind a custom domain; ignored by the emulator, which serves its own).
    /// `LIFT_MANAGEMENT_ENDPOINT`.
    pub management_endpoint: Option<String>,
    /// A PEM file of certificates the Management API client trusts besides the platform's
    /// roots: for a local endpoint over HTTPS whose certificate a CA of its own signed (a
    /// TLS-terminating proxy in front of the emulator, a test double). Read when the app
    /// starts (a missing file, or one without a certificate, is an error then). Never needed
    /// in AWS, where `execute-api` has a public certificate. `LIFT_MANAGEMENT_CA_FILE`.
    pub management_ca_file: Option<std::path::PathBuf>,
    /// How long a stored connection counts after it opened (its `expires_at`, DynamoDB's TTL).
    /// Default: API Gateway's maximum connection lifetime (2 h) plus 10 minutes of slack.
    pub connection_ttl: Duration,
    /// The route selection expression, `$request.body.<field>[.<field>...]`: the emulator
    /// routes by it, and the deployment template copies it. Default `$request.body.action`.
    pub route_selection: String,
    /// The log filter of the subscriber [`App::run`](crate::App::run) installs: a default level
    /// and `target=level` directives, comma-separated (`warn,lift_runtime=debug`; a target
    /// covers its modules). Default `info`; one that is not such a filter logs at `info`, with a
    /// warning. `RUST_LOG`.
    pub log_filter: String,
    /// A keep-alive route that API Gateway answers itself, without invoking the function: a
    /// message naming it (`{"action":"ping"}` for `Some("ping")`) is answered
    /// `{"type":"pong"}`. API Gateway closes a connection after 10 minutes without a message;
    /// a client that sends this when idle keeps it open at no Lambda cost. The deployment
    /// template gives the route a MOCK integration; the emulator answers it the same way,
    /// without calling the app. Its key must not be one of the app's routes. Default: none.
    pub keepalive_route: Option<String>,
    /// How long a session lasts after its last `$connect` (a client that connects with
    /// `?session=ID` and comes back with the same id within it resumes its rooms, user and
    /// metadata: see the README's "Sessions"); `None` turns sessions off (the `session` query
    /// parameter is then the app's own). Default 2 h 10 min, a little over API Gateway's
    /// maximum connection lifetime. `LIFT_SESSION_TTL_SECS` (`0`: off).
    pub session_ttl: Option<Duration>,
    /// Room history, off by default: how long each room broadcast is kept for replay. With it,
    /// every room broadcast whose message is a JSON object is numbered per room: the frame
    /// gains `"room"` and `"seq"` (1, 2, 3...), and a client that reconnects asks for what it
    /// missed with the built-in replay route (see the README's "History"; the generated client
    /// does it by itself). Each broadcast then costs two store requests more (the room's
    /// counter, the kept message). `LIFT_HISTORY_SECS` (`0`: off).
    pub history: Option<Duration>,
    /// The function is also API Gateway's Lambda REQUEST authorizer on `$connect` (off by
    /// default): the app's [`JwtAuth`](crate::auth::JwtAuth) and
    /// [`AllowedOrigins`](crate::auth::AllowedOrigins) then refuse a handshake before
    /// `$connect` is invoked, and every event of the connection carries the verified claims
    /// (see the README's "Authorizer"). `your-app template` deploys the authorizer, and the
    /// emulator runs it before `$connect` as API Gateway does. (In Lambda the function answers
    /// an authorizer's request whether or not this is set.) `LIFT_AUTHORIZER` (`1`/`true`).
    pub authorizer: bool,
    /// Presence, off by default: a room's members get
    /// `{"type":"presence","room":R,"user":U,"state":"joined"}` when a user's first connection
    /// joins it and `"state":"left"` when their last one leaves it (`leave`, `$disconnect`, a
    /// send finding it gone, or its expiry passing without a `$disconnect`: swept every minute
    /// by the template's schedule, every second by the emulator); `ctx.room(r).users()` lists
    /// who is there. Users are what the `$connect` handler's `set_user` gave; connections
    /// without one have no presence. See the README's "Presence" for the costs.
    /// `LIFT_PRESENCE` (`1`/`true`).
    pub presence: bool,
    /// How sends and broadcasts are paced and retried.
    pub broadcast: BroadcastSettings,
    /// When room broadcasts are handed to the fan-out queue (see [`fanout`](crate::fanout)).
    pub fanout: FanoutSettings,
    /// The local emulator's settings.
    pub local: LocalSettings,
}

/// How sends and broadcasts are paced and retried ([`Settings::broadcast`]).
#[derive(Clone, Debug)]
pub struct BroadcastSettings {
    /// Sends in flight at once. Default 128: with a round trip of `r` to the Management API,
    /// one sending task delivers at most `concurrency / r` messages a second, and on this
    /// project's 2-core machine it is bound by CPU at about 20,000–27,000 a second
    /// (`BENCHMARKS.md`); with a real region's 5–20 ms round trips, 128 in flight are needed to
    /// come near that bound.
    pub concurrency: usize,
    /// Attempts per connection, the first included. Default 6.
    pub max_attempts: u32,
    /// Backoff before the first retry; doubled each time, with full jitter. Default 25 ms.
    pub base_backoff: Duration,
    /// Largest backoff. Default 1 s.
    pub max_backoff: Duration,
    /// Time kept free before the deadline for the handler to return. Default 250 ms.
    pub headroom: Duration,
    /// The deadline of a send when the event has none (an event fed to
    /// [`Service::handle`](crate::Service::handle)). Default 10 s.
    pub default_budget: Duration,
}

/// When and how room broadcasts are handed to the fan-out queue, and how its consumers send
/// ([`Settings::fanout`]; see [`fanout`](crate::fanout)).
#[derive(Clone, Debug)]
pub struct FanoutSettings {
    /// The SQS queue's URL (feature `sqs`). `LIFT_FANOUT_QUEUE_URL`.
    pub queue_url: Option<String>,
    /// Members a room broadcast sends to directly; a bigger room is handed off past them.
    /// Default 2,000. `LIFT_FANOUT_THRESHOLD`.
    pub threshold: usize,
    /// How many sends a second one invocation is expected to manage directly: a room broadcast
    /// sends directly to no more members than the invocation's remaining time covers at this
    /// rate. Default 5,000.
    pub invocation_rate: u32,
    /// How long a queued record stays worth sending. Default 5 minutes.
    /// `LIFT_FANOUT_EXPIRY_SECS`.
    pub expiry: Duration,
    /// Fan-out's sends a second across all consumers. Default 10,000 (API Gateway's default
    /// account throttle). `LIFT_FANOUT_RATE`.
    pub rate: u32,
    /// Consumers running at once (the event source mapping's maximum concurrency; the local
    /// queue's consumers). Default 10. `LIFT_FANOUT_CONSUMERS`.
    pub consumers: u32,
    /// Connection ids per queued record (fewer when the message is big). Default 500.
    pub ids_per_record: usize,
    /// Members a cursor record turns into id records before queuing a cursor for the rest.
    /// Default 50,000.
    pub expand_per_record: usize,
    /// Deliveries of a record before SQS moves it to the dead-letter queue (the queue's
    /// `maxReceiveCount`, 3 in the generated template): a consumer that fails a record at its
    /// last receive counts it dead-lettered (`FanoutRecordsDeadLettered` of
    /// [`Metrics`](crate::observe::Metrics)). Default 3. `LIFT_FANOUT_MAX_RECEIVES`.
    pub max_receives: u32,
}

/// `maxReceiveCount` of the generated template's fan-out queue.
pub(crate) const DEFAULT_MAX_RECEIVES: u32 = 3;

/// The local emulator's settings ([`Settings::local`]). The defaults are API Gateway's.
///
/// # The emulator
///
/// [`App::run`](crate::App::run) starts it when not in Lambda (feature `local`); tests start it
/// with `testing::TestApp` (feature `testing`). On one loopback port it serves:
///
/// - **WebSocket** on `/` and `/{stage}`. The upgrade request becomes a `$connect` event (headers,
///   query string, source IP); a non-2xx answer refuses the handshake with that HTTP status.
///   Each text frame becomes a MESSAGE event routed by the route selection expression
///   (`$request.body.action` by default): a body that is not JSON, or names no route, goes to
///   `$default`. A close becomes `$disconnect` with the close code and reason.
/// - **The Management API** on `/@connections/{id}` and `/{stage}/@connections/{id}`
///   (`POST` sends, `GET` describes, `DELETE` closes), wire-compatible with the AWS SDKs: an
///   unknown id is `410` with `x-amzn-errortype: GoneException`. The app's own client is
///   pointed here, so sends take the same path as in Lambda.
/// - A plain `GET /` (no upgrade) serves the [`LocalSettings::page`](LocalSettings::page), if any.
/// - **The inspector** on `/_lift` (`http://ADDR/_lift`, printed at start-up): the open
///   connections (user, rooms, age), each room's members, and the last 300 events (route key,
///   connection, status or error code, duration) and Management API calls, refreshed every
///   second from `/_lift/state` (JSON).
/// - **Fan-out**: the app's fan-out queue delivered to the app as SQS events, as Lambda's event
///   source mapping would (see [`fanout`](crate::fanout)).
///
/// ## Limits and errors (as the app's clients see them)
///
/// | situation | what happens |
/// |---|---|
/// | a frame over 32 KB, or a message over [`LocalSettings::max_message_size`](LocalSettings::max_message_size) (128 KB) | closed with 1009 `Message too big`, as API Gateway does (the app never sees it), then `$disconnect` |
/// | a text frame that is not UTF-8 | closed with 1007, as API Gateway and RFC 6455 require, then `$disconnect` |
/// | binary frame | closed with 1003, as API Gateway does (it accepts text frames only), then `$disconnect` |
/// | a frame RFC 6455 forbids: unmasked, a reserved opcode or RSV bit, a control frame over 125 bytes or fragmented, a continuation with no message, a close code that may not be sent | closed with 1002 `Protocol error`, then `$disconnect` |
/// | a close frame from the client | answered with the same close code, then `$disconnect` with it |
/// | a ping | answered with a pong carrying its payload (the app never sees pings) |
/// | a message on the keep-alive route ([`Settings::keepalive_route`], e.g. `{"action":"ping"}`) | answered `{"type":"pong"}` without calling the app, as the deployed route's MOCK integration answers it |
/// | a plain `GET` (no `Upgrade: websocket`) | the [`LocalSettings::page`](LocalSettings::page), if any, else 426 |
/// | a handshake for another WebSocket version | 426 with `Sec-WebSocket-Version: 13` |
/// | a handshake without `Sec-WebSocket-Key` or `Sec-WebSocket-Version`, or `POST` | 400, or 405 for `POST`; nothing reaches the app |
/// | a request head over 400 KB or with over 100 headers | 431 |
/// | a send to a connection while its `$connect` handler runs | `410 Gone`, as in API Gateway: the connection exists once `$connect` has returned (the runtime logs a hint) |
/// | handler slower than [`LocalSettings::invocation_timeout`](LocalSettings::invocation_timeout) (29 s) | error frame `timeout`, connection stays open |
/// | no message for [`LocalSettings::idle_timeout`](LocalSettings::idle_timeout) (10 min) | closed with 1001 `Going away`, then `$disconnect` |
/// | open for [`LocalSettings::max_lifetime`](LocalSettings::max_lifetime) (2 h) | closed with 1001 `Going away`, then `$disconnect` |
///
/// With [`LocalSettings::lenient_limits`](LocalSettings::lenient_limits), an oversized message is answered with an error frame
/// `message_too_large` and the connection kept, so a development session is not cut off by a
/// client's mistake; the default is what the app will meet in AWS. Browsers' `WebSocket` sends
/// each message as one frame: keep browser messages under 32 KB, or they close the connection
/// in AWS. In the other direction API Gateway splits messages over 32 KB into several
/// frames, which every WebSocket client reassembles; the emulator sends them as one frame.
#[derive(Clone, Debug)]
pub struct LocalSettings {
    /// Where to listen. Default `127.0.0.1:3001`; port 0 picks a free port. `LIFT_LOCAL_ADDR`.
    pub addr: SocketAddr,
    /// The stage name used when clients connect on `/`. Default `local`.
    pub stage: String,
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
    /// checks: a request signed with one of them and a wrong signature is refused with 403 as
    /// in API Gateway. Default: `local` / `local`, the credentials the app signs with outside
    /// Lambda when the environment has none.
    pub credentials: Vec<(String, String)>,
    /// Whether a request signed with an access key the emulator does not know (the
    /// credentials already in a developer's environment, a function run by `cargo lambda` or
    /// `sam local`) is accepted, as moto, LocalStack and DynamoDB Local accept any: its
    /// signature cannot be checked without the secret, but its form is (algorithm
    /// `AWS4-HMAC-SHA256`, a credential scope `DATE/REGION/execute-api/aws4_request` of the
    /// request's date, `X-Amz-Date` within 15 minutes of now), as for every request.
    /// Default `true`; `false` (strict: `LIFT_LOCAL_STRICT=1`, and always in
    /// `testing::TestApp`) refuses it with 403 `UnrecognizedClientException`, as API Gateway.
    pub any_access_key: bool,
    /// Whether the Management API checks signatures (default `true`, as API Gateway). Turned
    /// off only to measure unsigned clients against signed ones (the benchmarks).
    pub check_signatures: bool,
    /// What an oversized message does: `false` (the default) as API Gateway, the connection
    /// closed with 1009 when a frame is over 32 KB or a message over 128 KB; `true` an error
    /// frame `message_too_large` and the connection kept open, for a development session that
    /// should survive a client's mistake.
    pub lenient_limits: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            table_name: None,
            management_endpoint: None,
            management_ca_file: None,
            connection_ttl: crate::store::MAX_CONNECTION_LIFETIME + crate::store::EXPIRY_SLACK,
            route_selection: "$request.body.action".to_owned(),
            log_filter: "info".to_owned(),
            keepalive_route: None,
            session_ttl: Some(crate::store::MAX_CONNECTION_LIFETIME + crate::store::EXPIRY_SLACK),
            history: None,
            authorizer: false,
            presence: false,
            broadcast: BroadcastSettings::default(),
            fanout: FanoutSettings::default(),
            local: LocalSettings::default(),
        }
    }
}

impl Default for BroadcastSettings {
    fn default() -> Self {
        BroadcastSettings {
            concurrency: 128,
            max_attempts: 6,
            base_backoff: Duration::from_millis(25),
            max_backoff: Duration::from_secs(1),
            headroom: Duration::from_millis(250),
            default_budget: Duration::from_secs(10),
        }
    }
}

impl Default for FanoutSettings {
    fn default() -> Self {
        FanoutSettings {
            queue_url: None,
            threshold: 2_000,
            invocation_rate: 5_000,
            expiry: Duration::from_secs(5 * 60),
            rate: 10_000,
            consumers: 10,
            ids_per_record: 500,
            expand_per_record: 50_000,
            max_receives: DEFAULT_MAX_RECEIVES,
        }
    }
}

impl Default for LocalSettings {
    fn default() -> Self {
        LocalSettings {
            addr: SocketAddr::from(([127, 0, 0, 1], 3001)),
            stage: "local".to_owned(),
            max_message_size: crate::outbound::MAX_MESSAGE_SIZE,
            idle_timeout: Duration::from_secs(10 * 60),
            max_lifetime: Duration::from_secs(2 * 60 * 60),
            invocation_timeout: Duration::from_secs(29),
            page: None,
            management_latency: Duration::ZERO,
            credentials: vec![("local".to_owned(), "local".to_owned())],
            any_access_key: true,
            check_signatures: true,
            lenient_limits: false,
        }
    }
}

impl Settings {
    /// The defaults, with what the environment sets (the variables are listed in the
    /// [module docs](self)). An error names a variable whose value is not a number or an
    /// address.
    pub fn from_env() -> Result<Settings, crate::Error> {
        Settings::from_vars(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) with the variables `var` gives.
    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Settings, crate::Error> {
        let var = |name: &str| var(name).filter(|value| !value.trim().is_empty());
        let mut settings = Settings::default();
        fn parse<T: std::str::FromStr>(
            name: &str,
            value: Option<String>,
            into: &mut T,
            what: &str,
        ) -> Result<(), crate::Error>
        where
            T::Err: std::fmt::Display,
        {
            if let Some(value) = value {
                *into = value
                    .trim()
                    .parse()
                    .map_err(|err| format!("{name}={value:?} is not {what}: {err}"))?;
            }
            Ok(())
        }
        settings.table_name = var("LIFT_TABLE_NAME");
        settings.management_endpoint = var("LIFT_MANAGEMENT_ENDPOINT");
        settings.management_ca_file = var("LIFT_MANAGEMENT_CA_FILE").map(Into::into);
        if let Some(filter) = var("RUST_LOG") {
            settings.log_filter = filter;
        }
        let fanout = &mut settings.fanout;
        fanout.queue_url = var("LIFT_FANOUT_QUEUE_URL");
        let number = "a whole number";
        parse(
            "LIFT_FANOUT_THRESHOLD",
            var("LIFT_FANOUT_THRESHOLD"),
            &mut fanout.threshold,
            number,
        )?;
        parse(
            "LIFT_FANOUT_RATE",
            var("LIFT_FANOUT_RATE"),
            &mut fanout.rate,
            number,
        )?;
        parse(
            "LIFT_FANOUT_CONSUMERS",
            var("LIFT_FANOUT_CONSUMERS"),
            &mut fanout.consumers,
            number,
        )?;
        parse(
            "LIFT_FANOUT_MAX_RECEIVES",
            var("LIFT_FANOUT_MAX_RECEIVES"),
            &mut fanout.max_receives,
            number,
        )?;
        let mut expiry = fanout.expiry.as_secs();
        parse(
            "LIFT_FANOUT_EXPIRY_SECS",
            var("LIFT_FANOUT_EXPIRY_SECS"),
            &mut expiry,
            number,
        )?;
        fanout.expiry = Duration::from_secs(expiry);
        if let Some(keep) = var("LIFT_HISTORY_SECS") {
            let mut secs = 0u64;
            parse("LIFT_HISTORY_SECS", Some(keep), &mut secs, number)?;
            settings.history = (secs > 0).then(|| Duration::from_secs(secs));
        }
        if let Some(on) = var("LIFT_AUTHORIZER") {
            settings.authorizer = switch("LIFT_AUTHORIZER", &on)?;
        }
        if let Some(on) = var("LIFT_PRESENCE") {
            settings.presence = switch("LIFT_PRESENCE", &on)?;
        }
        if let Some(ttl) = var("LIFT_SESSION_TTL_SECS") {
            let mut secs = 0u64;
            parse("LIFT_SESSION_TTL_SECS", Some(ttl), &mut secs, number)?;
            settings.session_ttl = (secs > 0).then(|| Duration::from_secs(secs));
        }
        let address = "an address like 127.0.0.1:3001";
        parse(
            "LIFT_LOCAL_ADDR",
            var("LIFT_LOCAL_ADDR"),
            &mut settings.local.addr,
            address,
        )?;
        if let Some(on) = var("LIFT_LOCAL_STRICT") {
            settings.local.any_access_key = !switch("LIFT_LOCAL_STRICT", &on)?;
        }
        Ok(settings)
    }

    /// The body fields the route selection expression reads (`$request.body.a.b` → `["a",
    /// "b"]`); an error for an expression API Gateway's WebSocket APIs (and the emulator) do not
    /// support.
    #[cfg(feature = "local")]
    pub(crate) fn selection_path(&self) -> Result<Vec<String>, crate::Error> {
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

/// What the keep-alive route ([`Settings::keepalive_route`]) is answered, by API Gateway (the
/// template's MOCK integration) and by the emulator.
pub(crate) const KEEPALIVE_ANSWER: &str = r#"{"type":"pong"}"#;

/// A variable that turns something on or off.
pub(crate) fn switch(name: &str, value: &str) -> Result<bool, crate::Error> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("{name}={value:?}: expected 1 or 0 (true or false)").into()),
    }
}

/// Whether this process is a Lambda function (`AWS_LAMBDA_RUNTIME_API` is set).
pub(crate) fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
}

/// Whether the environment names an SQS endpoint (`AWS_ENDPOINT_URL_SQS`): the emulator then
/// fans out through that server instead of in-process.
#[cfg(all(feature = "local", feature = "sqs"))]
pub(crate) fn sqs_endpoint_set() -> bool {
    std::env::var("AWS_ENDPOINT_URL_SQS").is_ok_and(|value| !value.trim().is_empty())
}

/// The placeholder credentials of everything local: the emulator's Management API accepts them
/// (`LocalSettings::credentials`' default), and local DynamoDB- and SQS-compatible servers
/// accept any.
#[cfg(any(
    feature = "lambda",
    feature = "local",
    feature = "dynamodb",
    feature = "sqs"
))]
pub(crate) fn local_credentials() -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new("local", "local", None, None, "lift-local")
}

/// The region of everything local.
#[cfg(any(
    feature = "lambda",
    feature = "local",
    feature = "dynamodb",
    feature = "sqs"
))]
pub(crate) fn local_region() -> aws_config::Region {
    aws_config::Region::new("us-east-1")
}

/// The AWS configuration from the environment, as the store, the fan-out queue and the
/// Management API client load it: the standard AWS configuration chain (so
/// `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SQS` and `AWS_ENDPOINT_URL` point the clients
/// at local servers). Fixed placeholder credentials and region `us-east-1` are used when the
/// environment has none: outside Lambda, and in a local emulation of Lambda (`cargo lambda
/// watch` sets neither; Lambda itself always sets both). Local DynamoDB- and SQS-compatible
/// servers and the emulator accept them.
#[cfg(any(feature = "lambda", feature = "dynamodb", feature = "sqs"))]
pub(crate) async fn aws_config(lambda: bool) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    let set = |names: &[&str]| names.iter().any(|name| std::env::var_os(name).is_some());
    if !set(&[
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ]) {
        if lambda {
            tracing::info!("no AWS credentials in a Lambda environment (a local emulation of Lambda?): signing with placeholder ones");
        }
        loader = loader.credentials_provider(local_credentials());
    }
    if !set(&["AWS_REGION", "AWS_DEFAULT_REGION"]) {
        if lambda {
            tracing::info!("no AWS_REGION in a Lambda environment (a local emulation of Lambda?): using us-east-1");
        }
        loader = loader.region(local_region());
    }
    loader.load().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<Settings, crate::Error> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_vars(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn the_environment_sets_what_it_names_and_nothing_else() {
        let settings = from(&[
            ("LIFT_TABLE_NAME", "conns"),
            ("LIFT_FANOUT_THRESHOLD", " 50 "),
            ("LIFT_FANOUT_EXPIRY_SECS", "7"),
            ("LIFT_LOCAL_ADDR", "127.0.0.1:0"),
            ("LIFT_MANAGEMENT_ENDPOINT", ""),
            ("LIFT_LOCAL_STRICT", "1"),
            ("LIFT_MANAGEMENT_CA_FILE", "/etc/local-ca.pem"),
        ])
        .unwrap();
        assert_eq!(
            settings.management_ca_file.as_deref(),
            Some(std::path::Path::new("/etc/local-ca.pem"))
        );
        assert!(!settings.local.any_access_key, "strict");
        assert_eq!(settings.table_name.as_deref(), Some("conns"));
        assert_eq!(settings.fanout.threshold, 50);
        assert_eq!(settings.fanout.expiry, Duration::from_secs(7));
        assert_eq!(settings.local.addr.port(), 0);
        assert_eq!(settings.management_endpoint, None, "empty is unset");
        assert_eq!(settings.fanout.rate, FanoutSettings::default().rate);
    }

    #[test]
    fn a_value_that_does_not_parse_is_an_error_naming_the_variable() {
        let err = from(&[("LIFT_FANOUT_RATE", "fast")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("LIFT_FANOUT_RATE=\"fast\""), "{err}");
        let err = from(&[("LIFT_LOCAL_ADDR", "nowhere")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("LIFT_LOCAL_ADDR") && err.contains("127.0.0.1:3001"),
            "{err}"
        );
    }
}
