//! Testing an app end to end: the local emulator in your test process and real WebSocket
//! clients, the way this crate tests itself (feature `testing`) — or without sockets, feeding
//! the [`Event`]s API Gateway sends to Lambda to the app's [`Service`](crate::Service).
//!
//! ```toml
//! [dev-dependencies]
//! lift-runtime = { version = "0.1", features = ["testing"] }
//! ```
//!
//! ```
//! use lift_runtime::testing::TestApp;
//! use lift_runtime::App;
//! use serde_json::json;
//!
//! #[lift_runtime::ws_app]
//! mod echo {
//!     use lift_runtime::prelude::*;
//!
//!     #[ws_route("echo")]
//!     async fn echo(ctx: &WsContext, body: String) -> WsResult {
//!         ctx.reply(&serde_json::json!({"echo": body})).await?;
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main] async fn main() {
//! // In a `#[tokio::test]`:
//! let app = TestApp::start(App::new(echo::router())).await;
//! let mut ana = app.connect("/?name=ana").await;
//! ana.send_json(&json!({"action": "echo", "text": "hi"})).await;
//! let frame = ana.recv_json().await;
//! assert_eq!(frame["echo"], r#"{"action":"echo","text":"hi"}"#);
//!
//! // A message to an unknown route gets the documented error frame, and nothing else arrives.
//! ana.send_json(&json!({"action": "dance"})).await;
//! assert_eq!(ana.recv_json().await["code"], "unknown_route");
//! ana.expect_silence(std::time::Duration::from_millis(50)).await;
//!
//! // The store sees what the app saw.
//! assert_eq!(app.store().list().await.unwrap().len(), 1);
//! ana.close(1000, "").await;
//! app.shutdown().await;
//! # }
//! ```
//!
//! The helpers panic with a message saying what was expected: they are for tests.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
/// A WebSocket frame (tungstenite's), for [`TestClient::send`] and [`TestClient::recv`].
pub use tokio_tungstenite::tungstenite::Message;

mod context;
pub use context::{Call, Calls, TestContext, TEST_CONNECTION};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;

use crate::app::App;
use crate::events;
use crate::local::Emulator;
use crate::route_key::RouteKey;
use crate::store::ConnectionStore;

/// How long [`TestClient`] waits for a frame before it panics, unless told otherwise.
pub(crate) const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// An app running on the local emulator on a free loopback port.
pub struct TestApp {
    emulator: Emulator,
}

impl TestApp {
    /// Starts `app` as [`App::run`] would outside Lambda (with its settings: those given to
    /// [`App::settings`], else the environment's), on a free loopback port.
    ///
    /// Its Management API is strict, so a test catches a signing bug: it accepts only the keys
    /// in [`LocalSettings::credentials`](crate::settings::LocalSettings::credentials) (the app
    /// signs with `local`), each request's signature verified; a client of your own signs with
    /// a key added there, or the environment sets `LIFT_LOCAL_STRICT=0` to accept any.
    ///
    /// # Panics
    ///
    /// When the app's settings, store or queue cannot be set up, or the emulator cannot start.
    pub async fn start(app: App) -> TestApp {
        let service = app
            .emulator_service(true)
            .await
            .unwrap_or_else(|err| panic!("the app could not be set up: {err}"));
        let emulator = Emulator::start(service)
            .await
            .unwrap_or_else(|err| panic!("the emulator did not start: {err}"));
        TestApp { emulator }
    }

    /// The emulator's Management API endpoint for the default stage,
    /// `http://127.0.0.1:PORT/local` (what an AWS SDK client of the app's connections is
    /// pointed at).
    pub fn management_endpoint(&self) -> String {
        self.emulator.management_endpoint()
    }

    /// `ws://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.emulator.url()
    }

    /// The app's connection store.
    pub fn store(&self) -> &Arc<dyn ConnectionStore> {
        self.emulator.service().store()
    }

    /// The ids of the open connections.
    pub fn connection_ids(&self) -> Vec<String> {
        self.emulator.connection_ids()
    }

    /// Connects to `path` (e.g. `/?name=ana` or `/prod`).
    ///
    /// # Panics
    ///
    /// When the handshake is refused (the `$connect` handler returned an error).
    pub async fn connect(&self, path: &str) -> TestClient {
        self.try_connect(path, &[])
            .await
            .unwrap_or_else(|status| panic!("the handshake to {path} was refused with {status}"))
    }

    /// Connects to `path` with these request headers (none, or e.g. `Authorization`, or
    /// `Sec-WebSocket-Protocol`); `Err(status)` when `$connect` refused the handshake with that
    /// HTTP status.
    pub async fn try_connect(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<TestClient, u16> {
        TestClient::try_connect(&format!("{}{path}", self.url()), headers).await
    }

    /// Closes every connection (each gets its `$disconnect`) and stops the emulator.
    pub async fn shutdown(self) {
        self.emulator.shutdown().await;
    }
}

/// A real WebSocket client (tokio-tungstenite).
pub struct TestClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    wait: Duration,
}

impl std::fmt::Debug for TestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestClient")
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for TestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApp")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl TestClient {
    /// Connects to a full `ws://` URL with extra request headers; `Err(status)` when the
    /// handshake is refused with an HTTP status.
    ///
    /// # Panics
    ///
    /// When the URL or a header is invalid, or the server cannot be reached.
    pub async fn try_connect(url: &str, headers: &[(&str, &str)]) -> Result<TestClient, u16> {
        let mut request = url
            .into_client_request()
            .unwrap_or_else(|err| panic!("{url} is not a WebSocket URL: {err}"));
        for (name, value) in headers {
            let name = http::HeaderName::from_bytes(name.as_bytes())
                .unwrap_or_else(|err| panic!("{name} is not a header name: {err}"));
            let value = value
                .parse()
                .unwrap_or_else(|err| panic!("{value:?} is not a header value: {err}"));
            request.headers_mut().insert(name, value);
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((ws, _)) => Ok(TestClient {
                ws,
                wait: DEFAULT_WAIT,
            }),
            Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
            Err(err) => panic!("cannot connect to {url}: {err}"),
        }
    }

    /// Sends `value` as a JSON text frame.
    pub async fn send_json<T: Serialize + ?Sized>(&mut self, value: &T) {
        let text = serde_json::to_string(value).expect("the value serialises to JSON");
        self.send_text(&text).await;
    }

    /// Sends a text frame.
    pub async fn send_text(&mut self, text: &str) {
        self.send(Message::text(text)).await;
    }

    /// Sends any frame.
    ///
    /// # Panics
    ///
    /// When the connection is closed.
    pub async fn send(&mut self, message: Message) {
        self.ws
            .send(message)
            .await
            .unwrap_or_else(|err| panic!("the frame could not be sent: {err}"));
    }

    /// The next text frame, parsed as JSON.
    ///
    /// # Panics
    ///
    /// When no frame comes in time, the connection closes, or the frame is not JSON text.
    pub async fn recv_json(&mut self) -> Value {
        let text = self.recv_text().await;
        serde_json::from_str(&text)
            .unwrap_or_else(|err| panic!("frame {text:?} is not JSON: {err}"))
    }

    /// The next text frame.
    ///
    /// # Panics
    ///
    /// When no frame comes in time, the connection closes, or the frame is not text.
    pub async fn recv_text(&mut self) -> String {
        match self.recv().await {
            Message::Text(text) => text.to_string(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// The next frame other than ping and pong.
    ///
    /// # Panics
    ///
    /// When no frame comes in time or the connection ends.
    pub async fn recv(&mut self) -> Message {
        match self.next_within(self.wait).await {
            Some(message) => message,
            None => panic!("no frame arrived within {:?}", self.wait),
        }
    }

    /// Panics if a frame arrives within `wait` (to check that nothing was sent).
    pub async fn expect_silence(&mut self, wait: Duration) {
        if let Some(message) = self.next_within(wait).await {
            panic!("expected no frame, got {message:?}");
        }
    }

    /// Waits for the server to close the connection; its close code and reason.
    ///
    /// # Panics
    ///
    /// When a data frame comes first, or nothing comes in time.
    pub async fn closed(&mut self) -> (u16, String) {
        match self.recv().await {
            Message::Close(Some(frame)) => (frame.code.into(), frame.reason.to_string()),
            Message::Close(None) => (1005, String::new()),
            other => panic!("expected the connection to close, got {other:?}"),
        }
    }

    /// Closes the connection with this code and reason (1000 and `""` for a normal close) and
    /// waits for the server's answer.
    pub async fn close(mut self, code: u16, reason: &str) {
        let frame = tungstenite::protocol::CloseFrame {
            code: code.into(),
            reason: reason.into(),
        };
        let _ = self.ws.close(Some(frame)).await;
        while let Ok(Some(Ok(_))) = tokio::time::timeout(self.wait, self.ws.next()).await {}
    }

    async fn next_within(&mut self, wait: Duration) -> Option<Message> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return None,
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                Ok(Some(Ok(message))) => return Some(message),
                Ok(Some(Err(err))) => panic!("the connection failed: {err}"),
                Ok(None) => panic!("the connection ended"),
            }
        }
    }
}

/// An event as API Gateway sends it to Lambda, for testing a [`Service`](crate::Service)
/// directly (`service.handle(event.build())`), without sockets.
///
/// ```
/// use lift_runtime::testing::Event;
/// use lift_runtime::{App, LambdaResponse};
///
/// #[lift_runtime::ws_app]
/// mod app {
///     use lift_runtime::prelude::*;
///
///     #[ws_connect]
///     async fn connect(ctx: &mut WsContext) -> WsResult {
///         match ctx.query("name") {
///             Some(name) => Ok(ctx.set_user(name.to_owned())),
///             None => Err(WsError::bad_request("connect with ?name=")),
///         }
///     }
///
///     #[ws_route("ping", reply)]
///     async fn ping() -> WsResult<Reply> {
///         Ok(Reply::text("pong"))
///     }
/// }
///
/// # #[tokio::main] async fn main() {
/// let service = App::new(app::router()).service().await.unwrap();
/// // An API Gateway event gets an API Gateway response.
/// let answer = |response| match response {
///     LambdaResponse::WebSocket(response) => response,
///     _ => unreachable!("an API Gateway event gets an API Gateway response"),
/// };
/// let refused = answer(service.handle(Event::connect("abc=").build()).await);
/// assert_eq!(refused.status_code, 400);
/// let event = Event::connect("abc=").query("name", "ana").build();
/// assert_eq!(answer(service.handle(event).await).status_code, 200);
///
/// let event = Event::message("abc=", "ping", r#"{"action":"ping"}"#).build();
/// let response = answer(service.handle(event).await);
/// assert_eq!(response.body, Some(aws_lambda_events::encodings::Body::Text("pong".into())));
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Event {
    connection_id: String,
    kind: EventKind,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    stage: String,
    domain: String,
    connected_at: Option<std::time::SystemTime>,
}

#[derive(Clone, Debug)]
enum EventKind {
    Connect,
    Message { route: RouteKey, body: String },
    Disconnect { code: u16, reason: String },
}

impl Event {
    fn new(connection_id: &str, kind: EventKind) -> Self {
        Event {
            connection_id: connection_id.to_owned(),
            kind,
            query: Vec::new(),
            headers: Vec::new(),
            stage: "prod".to_owned(),
            domain: "abc123.execute-api.us-east-1.amazonaws.com".to_owned(),
            connected_at: None,
        }
    }

    /// A `$connect` (add the handshake's [`query`](Self::query) and [`header`](Self::header)s).
    pub fn connect(connection_id: &str) -> Self {
        Event::new(connection_id, EventKind::Connect)
    }

    /// A message API Gateway routed to `route_key` (`$default` when none matched).
    pub fn message(connection_id: &str, route_key: &str, body: &str) -> Self {
        let kind = EventKind::Message {
            route: RouteKey::parse(route_key),
            body: body.to_owned(),
        };
        Event::new(connection_id, kind)
    }

    /// A `$disconnect`, with the client's close code and reason.
    pub fn disconnect(connection_id: &str, code: u16, reason: &str) -> Self {
        let kind = EventKind::Disconnect {
            code,
            reason: reason.to_owned(),
        };
        Event::new(connection_id, kind)
    }

    /// A query-string parameter of the handshake.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    /// A header of the handshake.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// When the connection opened (`connectedAt`; by default, when the event is built). A
    /// connection a send finds gone (410) in its first 30 s is kept, as its `$connect` may not
    /// have returned yet; a test of what happens to older ones connects them in the past:
    ///
    /// ```
    /// use lift_runtime::testing::Event;
    /// use std::time::{Duration, SystemTime, UNIX_EPOCH};
    ///
    /// let a_minute_ago = SystemTime::now() - Duration::from_secs(60);
    /// let event = Event::connect("abc=").connected_at(a_minute_ago).build();
    /// let ms = a_minute_ago.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    /// assert_eq!(event["requestContext"]["connectedAt"], ms);
    /// ```
    pub fn connected_at(mut self, at: std::time::SystemTime) -> Self {
        self.connected_at = Some(at);
        self
    }

    /// The event, typed.
    pub(crate) fn to_event(&self) -> ApiGatewayWebsocketProxyRequest {
        let origin = events::Origin {
            domain: &self.domain,
            api_id: self.domain.split('.').next().unwrap_or("local"),
            stage: &self.stage,
            connection_id: &self.connection_id,
            connected_at: self.connected_at.unwrap_or_else(std::time::SystemTime::now),
            source_ip: "127.0.0.1",
            user_agent: None,
            authorizer: None,
        };
        match &self.kind {
            EventKind::Connect => events::connect(&origin, &self.headers, &self.query),
            EventKind::Message { route, body } => events::message(&origin, route, body.clone()),
            EventKind::Disconnect { code, reason } => {
                events::disconnect(&origin, &self.headers, *code, reason)
            }
        }
    }

    /// The event's JSON, as Lambda receives it and [`Service::handle`](crate::Service::handle)
    /// takes it.
    pub fn build(&self) -> Value {
        serde_json::to_value(self.to_event()).expect("an API Gateway event serialises to JSON")
    }
}
