//! Errors: [`WsError`], what a handler returns and the client receives as an error frame;
//! [`SendError`], what a Management API call can fail with; [`StoreError`]; [`Error`].

use std::borrow::Cow;
use std::fmt;

/// The error type of [`App::run`](crate::App::run) and other framework entry points.
pub type Error = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The result type of handlers: `Result<T, WsError>`, where `T` is `()`, [`Reply`](crate::Reply)
/// or [`Json<U>`](crate::Json).
pub type WsResult<T = ()> = Result<T, WsError>;

/// A handler's error: an HTTP-like status, a stable machine-readable code and a message for the
/// client.
///
/// On a message route the client receives it as an error frame
/// `{"type":"error","code":"...","message":"..."}` and the connection stays open; on `$connect`
/// it refuses the WebSocket handshake with [`status`](Self::status) and nothing is stored.
///
/// # Codes
///
/// | code | status | when |
/// |---|---|---|
/// | `bad_request` | 400 | [`WsError::bad_request`] |
/// | `invalid_body` | 400 | the body did not deserialise into the handler's `Json<T>` |
/// | `unauthorized` | 401 | [`WsError::unauthorized`] |
/// | `forbidden` | 403 | [`WsError::forbidden`] |
/// | `not_found` | 404 | [`WsError::not_found`] |
/// | `unknown_route` | 404 | no route matched and the app has no `#[ws_default]` handler |
/// | `gone` | 410 | a Management API call named a connection that is closed |
/// | `message_too_large` | 413 | a message over API Gateway's 128 KB limit (sent or received) |
/// | `internal` | 500 | [`WsError::internal`], a handler panic, a store or delivery failure (details are logged, not sent) |
/// | `invalid_event` | 400 | (Lambda response only) the event is not an API Gateway WebSocket event |
/// | `timeout` | 504 | (local emulator) the handler did not answer within the invocation timeout |
///
/// The client gets ``{"type":"error","code":"bad_request","message":"`text` must not be empty"}``
/// for this one:
///
/// ```
/// use lift_runtime::WsError;
///
/// let err = WsError::bad_request("`text` must not be empty");
/// assert_eq!(err.status(), 400);
/// assert_eq!(err.code(), "bad_request");
/// assert_eq!(err.message(), "`text` must not be empty");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsError {
    status: u16,
    code: Cow<'static, str>,
    message: String,
}

impl WsError {
    /// An error with any status, code and message.
    pub fn new(
        status: u16,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        WsError {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// 400 `bad_request`: the client sent something the handler cannot accept.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "bad_request", message)
    }

    /// 401 `unauthorized`: missing or invalid credentials (refuses `$connect` with 401).
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "unauthorized", message)
    }

    /// 403 `forbidden`: the caller is known but not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "forbidden", message)
    }

    /// 404 `not_found`: the thing asked for does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not_found", message)
    }

    /// 500 `internal`: something failed on the server side. Log the details yourself; the
    /// message is sent to the client as written.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "internal", message)
    }

    pub(crate) fn invalid_body(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_body", message)
    }

    pub(crate) fn unknown_route(route_key: &crate::RouteKey) -> Self {
        let message = match route_key {
            crate::RouteKey::Default => {
                "no route matches this message and the app has no $default handler".to_owned()
            }
            key => format!("no route handles `{key}` and the app has no $default handler"),
        };
        Self::new(404, "unknown_route", message)
    }

    pub(crate) fn too_large(size: usize, limit: usize) -> Self {
        Self::new(
            413,
            "message_too_large",
            format!("the message is {size} bytes; the limit is {limit} bytes"),
        )
    }

    /// The HTTP-like status (on `$connect`, the status the handshake is refused with).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The stable, machine-readable code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The message for the client.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error frame sent to the client: `{"type":"error","code":"...","message":"..."}`.
    pub(crate) fn to_frame(&self) -> String {
        #[derive(serde::Serialize)]
        struct Frame<'a> {
            r#type: &'static str,
            code: &'a str,
            message: &'a str,
        }
        let frame = Frame {
            r#type: "error",
            code: &self.code,
            message: &self.message,
        };
        serde_json::to_string(&frame).expect("strings always serialise")
    }
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for WsError {}

/// Why a Management API call (`send`, `disconnect`, `info`) failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// 410: the connection is closed (API Gateway's `GoneException`).
    Gone {
        /// The connection that is gone.
        connection_id: String,
    },
    /// The message is over API Gateway's 128 KB limit; nothing was sent.
    TooLarge {
        /// The message size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// 403: usually the function's role lacks `execute-api:ManageConnections`, or the endpoint is
    /// wrong (a custom domain needs `LIFT_MANAGEMENT_ENDPOINT`).
    Forbidden {
        /// The Management API endpoint that was called.
        endpoint: String,
    },
    /// 429: API Gateway's `LimitExceededException`.
    Throttled {
        /// The endpoint that throttled.
        endpoint: String,
    },
    /// 5xx: API Gateway failed (retried by broadcasts and sends).
    ServerError {
        /// The endpoint that failed.
        endpoint: String,
        /// The HTTP status.
        status: u16,
    },
    /// The invocation's deadline came before the message could be delivered.
    Deadline {
        /// The endpoint that was being called.
        endpoint: String,
    },
    /// The connection store could not say whom to send to (a room's members, a user's
    /// connections); sends already started were finished first.
    Store {
        /// What the store said.
        message: String,
    },
    /// Any other failure: a network error, an unexpected answer.
    Failed {
        /// The endpoint that was called.
        endpoint: String,
        /// What went wrong.
        message: String,
    },
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Gone { connection_id } => write!(f, "connection {connection_id} is gone (410)"),
            SendError::TooLarge { size, limit } => {
                write!(f, "message of {size} bytes is over the {limit}-byte limit")
            }
            SendError::Forbidden { endpoint } => write!(
                f,
                "the Management API at {endpoint} answered 403 Forbidden: check that the role allows \
                 execute-api:ManageConnections on this API and that the endpoint is the API's own \
                 (set LIFT_MANAGEMENT_ENDPOINT for custom domains)"
            ),
            SendError::Throttled { endpoint } => {
                write!(f, "the Management API at {endpoint} throttled the call (429)")
            }
            SendError::ServerError { endpoint, status } => {
                write!(f, "the Management API at {endpoint} answered {status}")
            }
            SendError::Deadline { endpoint } => write!(
                f,
                "the invocation's deadline came before the Management API at {endpoint} took the message"
            ),
            SendError::Store { message } => write!(
                f,
                "the connection store could not say whom to send to: {message}"
            ),
            SendError::Failed { endpoint, message } => {
                write!(f, "Management API call to {endpoint} failed: {message}")
            }
        }
    }
}

impl std::error::Error for SendError {}

impl From<SendError> for WsError {
    fn from(err: SendError) -> Self {
        match err {
            SendError::Gone { connection_id } => {
                WsError::new(410, "gone", format!("connection {connection_id} is gone"))
            }
            SendError::TooLarge { size, limit } => WsError::too_large(size, limit),
            SendError::Deadline { .. } => {
                WsError::new(504, "timeout", "the message could not be delivered in time")
            }
            SendError::Store { .. } => {
                tracing::error!(error = %err, "a broadcast could not read its recipients");
                WsError::internal("the message could not be delivered")
            }
            other => {
                tracing::error!(error = %other, "Management API call failed");
                WsError::internal("the message could not be delivered")
            }
        }
    }
}

/// A connection store failed (the details are in the message and the source).
#[derive(Debug)]
pub struct StoreError {
    message: String,
    not_found: bool,
    source: Option<Error>,
}

impl StoreError {
    /// A store error with a message and an optional cause.
    pub fn new(message: impl Into<String>, source: Option<Error>) -> Self {
        StoreError {
            message: message.into(),
            not_found: false,
            source,
        }
    }

    /// The connection the operation needs does not exist (or has expired).
    pub fn not_found(connection_id: &str) -> Self {
        StoreError {
            message: format!("connection {connection_id} is not connected"),
            not_found: true,
            source: None,
        }
    }

    /// Whether this is a [`not_found`](Self::not_found) error.
    pub fn is_not_found(&self) -> bool {
        self.not_found
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

impl From<StoreError> for WsError {
    fn from(err: StoreError) -> Self {
        if err.is_not_found() {
            return WsError::new(410, "gone", err.message);
        }
        tracing::error!(error = %err, "connection store failed");
        WsError::internal(STORE_FAILED)
    }
}

/// The message of the error a failed store request becomes.
const STORE_FAILED: &str = "the connection store failed";

impl WsError {
    /// Whether this is what a failed store request became (counted as `StoreErrors` by
    /// [`Metrics`](crate::observe::Metrics)).
    pub(crate) fn is_store_failure(&self) -> bool {
        self.status == 500 && self.message == STORE_FAILED
    }
}
