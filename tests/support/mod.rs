//! Test support: the chat app, an emulator running it, and a real WebSocket client.

use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use lift_runtime::testing::{Message, TestApp, TestClient};
use lift_runtime::App;
use serde_json::Value;

pub mod conformance;
pub mod corpus;
pub mod dynamodb;
pub mod events;
pub mod faults;
pub mod fuzz;
pub mod guarded;
pub mod lobby;
pub mod raw_ws;
pub mod rooms;
pub mod runtime_api;
pub mod sink;
pub mod tls;

/// The chat example's app, compiled into the tests exactly as the example has it.
#[path = "../../examples/chat/app.rs"]
pub mod chat_app;
pub mod lint;

/// How long a test waits for a frame that must come before it fails.
pub const FRAME_WAIT: Duration = Duration::from_secs(10);

/// Logs to the test output (shown for failing tests), once per process.
pub fn init_tracing() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "lift_runtime=debug".into()),
            )
            .with_test_writer()
            .init();
    });
}

/// The local emulator running `app` on a free loopback port.
pub async fn start(app: App) -> TestApp {
    init_tracing();
    TestApp::start(app).await
}

/// A connection time a minute ago: past the 30 s after which a connection that a send finds
/// gone (410) is removed (younger ones may still be in their `$connect`, which API Gateway
/// answers 410 for).
pub fn a_minute_ago() -> std::time::SystemTime {
    std::time::SystemTime::now() - std::time::Duration::from_secs(60)
}

/// The emulator running the chat example.
pub async fn start_chat() -> TestApp {
    start(App::new(chat_app::chat::router())).await
}

/// A real WebSocket client: the library's [`TestClient`] (what users test their apps with),
/// plus helpers for the chat.
pub struct Client(TestClient);

impl std::ops::Deref for Client {
    type Target = TestClient;
    fn deref(&self) -> &TestClient {
        &self.0
    }
}

impl std::ops::DerefMut for Client {
    fn deref_mut(&mut self) -> &mut TestClient {
        &mut self.0
    }
}

impl Client {
    /// Connects to `url`; `Err(status)` when the handshake is refused with an HTTP status.
    pub async fn try_connect(url: &str) -> Result<Client, u16> {
        TestClient::try_connect(url, &[]).await.map(Client)
    }

    /// Connects to `url` sending an extra request header.
    pub async fn try_connect_with_header(
        url: &str,
        name: &'static str,
        value: &str,
    ) -> Result<Client, u16> {
        TestClient::try_connect(url, &[(name, value)])
            .await
            .map(Client)
    }

    /// Connects to the chat on `emulator` as `name`.
    pub async fn join(emulator: &TestApp, name: &str) -> Client {
        let url = format!("{}/?name={name}", emulator.url());
        Client::try_connect(&url)
            .await
            .unwrap_or_else(|status| panic!("handshake refused with {status}"))
    }

    /// Sends a JSON text frame.
    pub async fn send_json(&mut self, value: Value) {
        self.0.send_json(&value).await;
    }

    /// The next frame other than ping/pong.
    pub async fn next(&mut self) -> Message {
        self.0.recv().await
    }

    /// Asks the chat for this connection's id (`whoami`).
    pub async fn whoami(&mut self) -> Value {
        self.send_json(serde_json::json!({"action": "whoami"}))
            .await;
        let reply = self.recv_json().await;
        assert_eq!(reply["type"], "whoami", "{reply}");
        reply
    }

    /// This connection's id.
    pub async fn connection_id(&mut self) -> String {
        self.whoami().await["connectionId"]
            .as_str()
            .expect("connectionId is a string")
            .to_owned()
    }

    /// Closes with this code and reason and waits for the server's close.
    pub async fn close(self, code: u16, reason: &str) {
        self.0.close(code, reason).await;
    }
}

/// Waits until `check` is true, polling; panics after [`FRAME_WAIT`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + FRAME_WAIT;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A writer into shared memory.
#[derive(Clone, Default)]
pub struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    /// Everything written, as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    /// The lines written, each parsed as JSON.
    pub fn lines(&self) -> Vec<Value> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}")))
            .collect()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Buffer {
        self.clone()
    }
}

/// Feeds a typed API Gateway event to `service` as Lambda would (its JSON), and answers the API
/// Gateway response.
pub async fn handle(
    service: &lift_runtime::Service,
    event: aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest,
) -> aws_lambda_events::apigw::ApiGatewayProxyResponse {
    let json = serde_json::to_value(&event).expect("an event serialises");
    handle_json(service, json).await
}

/// Feeds an event's JSON to `service`, and answers the API Gateway response.
pub async fn handle_json(
    service: &lift_runtime::Service,
    event: Value,
) -> aws_lambda_events::apigw::ApiGatewayProxyResponse {
    websocket(service.handle(event).await)
}

/// Delivers `queue`'s fan-out records to `service` as SQS events, as Lambda's event source
/// mapping (and the emulator) would, until the task is aborted.
pub fn deliver(
    queue: &dyn lift_runtime::fanout::FanoutQueue,
    service: &lift_runtime::Service,
) -> tokio::task::JoinHandle<()> {
    use tower::ServiceExt;
    let service = service.clone();
    let deliver: lift_runtime::fanout::Deliver = Arc::new(move |event, deadline| {
        let service = service.clone();
        Box::pin(async move {
            let event = serde_json::to_value(&event).expect("an SQS event serialises");
            let event = lambda_runtime::LambdaEvent::new(event, context("fanout", deadline));
            let response = service
                .oneshot(event)
                .await
                .expect("an SQS event is answered");
            sqs(response)
        })
    });
    queue
        .deliver(deliver)
        .expect("the queue delivers its records itself")
}

/// Settings that send every Management API call to `url` (a custom domain's endpoint, or a
/// closed port where no send matters).
pub fn endpoint(url: impl Into<String>) -> lift_runtime::Settings {
    lift_runtime::Settings {
        management_endpoint: Some(url.into()),
        ..lift_runtime::Settings::default()
    }
}

/// Feeds an event's JSON to `service` as `lambda_runtime` does (through its `tower::Service`),
/// with this request id and deadline in the Lambda context; answers the API Gateway response.
pub async fn invoke(
    service: &lift_runtime::Service,
    event: Value,
    request_id: &str,
    deadline: Option<std::time::Instant>,
) -> aws_lambda_events::apigw::ApiGatewayProxyResponse {
    use tower::ServiceExt;
    let event = lambda_runtime::LambdaEvent::new(event, context(request_id, deadline));
    let response = service
        .clone()
        .oneshot(event)
        .await
        .expect("an API Gateway event is answered");
    websocket(response)
}

/// A Lambda context with this request id and deadline (none: `deadline` 0, as
/// `Context::default()`).
pub fn context(request_id: &str, deadline: Option<std::time::Instant>) -> lambda_runtime::Context {
    let mut context = lambda_runtime::Context::default();
    context.request_id = request_id.to_owned();
    if let Some(deadline) = deadline {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        context.deadline = now_ms + left.as_millis() as u64;
    }
    context
}

/// The API Gateway response of an API Gateway event.
pub fn websocket(
    response: lift_runtime::LambdaResponse,
) -> aws_lambda_events::apigw::ApiGatewayProxyResponse {
    match response {
        lift_runtime::LambdaResponse::WebSocket(response) => *response,
        other => panic!("an API Gateway event gets an API Gateway response, not {other:?}"),
    }
}

/// The batch response of an SQS event.
pub fn sqs(response: lift_runtime::LambdaResponse) -> aws_lambda_events::sqs::SqsBatchResponse {
    match response {
        lift_runtime::LambdaResponse::Sqs(response) => response,
        other => panic!("an SQS event gets a batch response, not {other:?}"),
    }
}
