//! Testing an app end to end: the local emulator in your test process and real WebSocket
//! clients, the way this crate tests itself (feature `testing`).
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
//! ana.close().await;
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
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::app::App;
use crate::local::Emulator;
use crate::store::ConnectionStore;

/// How long [`TestClient`] waits for a frame before it panics, unless told otherwise.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// An app running on the local emulator on a free loopback port.
pub struct TestApp {
    emulator: Emulator,
}

impl TestApp {
    /// Starts `app` (with its own [`LocalConfig`](crate::local::LocalConfig), on a free port).
    ///
    /// # Panics
    ///
    /// When the emulator cannot start.
    pub async fn start(app: App) -> TestApp {
        let addr = "127.0.0.1:0".parse().expect("a loopback address");
        let config = app.local.clone().addr(addr);
        let emulator = Emulator::start(app.local(config))
            .await
            .unwrap_or_else(|err| panic!("the emulator did not start: {err}"));
        TestApp { emulator }
    }

    /// The emulator, for what this type does not wrap.
    pub fn emulator(&self) -> &Emulator {
        &self.emulator
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
        self.try_connect(path)
            .await
            .unwrap_or_else(|status| panic!("the handshake to {path} was refused with {status}"))
    }

    /// Connects to `path`; `Err(status)` when `$connect` refused the handshake with that HTTP
    /// status.
    pub async fn try_connect(&self, path: &str) -> Result<TestClient, u16> {
        TestClient::try_connect(&format!("{}{path}", self.url()), &[]).await
    }

    /// Connects to `path` with extra request headers (e.g. `Authorization`, or
    /// `Sec-WebSocket-Protocol`).
    pub async fn try_connect_with(
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

    /// Waits this long for each frame instead of [`DEFAULT_WAIT`].
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
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

    /// Sends a binary frame.
    pub async fn send_binary(&mut self, bytes: impl Into<Vec<u8>>) {
        self.send(Message::binary(bytes.into())).await;
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

    /// Closes the connection normally (1000) and waits for the server's answer.
    pub async fn close(self) {
        self.close_with(1000, "").await;
    }

    /// Closes the connection with this code and reason and waits for the server's answer.
    pub async fn close_with(mut self, code: u16, reason: &str) {
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
