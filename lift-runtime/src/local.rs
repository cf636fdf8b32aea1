//! The local emulator of API Gateway's WebSocket API: the same app, on your machine.
//!
//! [`App::run`](crate::App::run) starts it when not in Lambda; tests start it with
//! [`Emulator::start`]. On one loopback port it serves:
//!
//! - **WebSocket** on `/` and `/{stage}`. The upgrade request becomes a `$connect` event (headers,
//!   query string, source IP); a non-2xx answer refuses the handshake with that HTTP status.
//!   Each text frame becomes a MESSAGE event routed by the route selection expression
//!   (`$request.body.action` by default): a body that is not JSON, or names no route, goes to
//!   `$default`. A close becomes `$disconnect` with the close code and reason.
//! - **The Management API** on `/@connections/{id}` and `/{stage}/@connections/{id}`
//!   (`POST` sends, `GET` describes, `DELETE` closes), wire-compatible with the AWS SDKs: an
//!   unknown id is `410` with `x-amzn-errortype: GoneException`. The app's own SDK client is
//!   pointed here, so sends take the same path as in Lambda.
//! - A plain `GET /` (no upgrade) serves the [`LocalConfig::page`], if any.
//!
//! # Limits and errors (as the app's clients see them)
//!
//! | situation | what happens |
//! |---|---|
//! | text message over [`LocalConfig::max_message_size`] (128 KB) | error frame `message_too_large`, connection stays open (see below) |
//! | message over 1 MB | the WebSocket library closes the connection with 1009 |
//! | binary frame | closed with 1003, as API Gateway does (it accepts text frames only), then `$disconnect` |
//! | a send to a connection while its `$connect` handler runs | `410 Gone`, as in API Gateway: the connection exists once `$connect` has returned (the runtime logs a hint) |
//! | handler slower than [`LocalConfig::invocation_timeout`] (29 s) | error frame `timeout`, connection stays open |
//! | no message for [`LocalConfig::idle_timeout`] (10 min) | closed with 1001 `Going away`, then `$disconnect` |
//! | open for [`LocalConfig::max_lifetime`] (2 h) | closed with 1001 `Going away`, then `$disconnect` |
//!
//! One difference from API Gateway, on purpose: API Gateway closes a connection with 1009 when
//! a client sends a message over 128 KB or a single frame over 32 KB (the function never sees
//! it), where the emulator answers the error frame and keeps the connection, so a development
//! session is not cut off. Clients that may send large messages must split them into frames of
//! at most 32 KB (browsers' `WebSocket` sends one frame per message: keep browser messages
//! under 32 KB). In the other direction API Gateway splits messages over 32 KB into several
//! frames, which every WebSocket client reassembles; the emulator sends them as one frame.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use aws_lambda_events::encodings::Body as EventBody;
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, oneshot};

use crate::app::App;
use crate::error::WsError;
use crate::ids;
use crate::outbound::{SdkManagement, MAX_MESSAGE_SIZE};
use crate::route_key::RouteKey;

/// The close reason for a binary frame (API Gateway does not document its own).
const BINARY_REFUSED: &str = "binary frames are not supported";

/// API Gateway's largest WebSocket frame from a client (32 KB).
const API_GATEWAY_FRAME_SIZE: usize = 32 * 1024;
use crate::service::{Endpoint, Invocation, Service};

/// How long the server waits for the client's answer after it sent a close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

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
        }
    }
}

impl LocalConfig {
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

    fn selection_path(&self) -> Result<Vec<String>, crate::Error> {
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

/// Runs the app on the emulator until Ctrl-C.
pub(crate) async fn run(app: App) -> Result<(), crate::Error> {
    let emulator = Emulator::start(app).await?;
    tracing::info!(
        "Lift local emulator: WebSocket on {}, Management API on {}",
        emulator.url(),
        emulator.management_endpoint()
    );
    tokio::signal::ctrl_c().await?;
    tracing::info!("shutting down");
    emulator.shutdown().await;
    Ok(())
}

/// A running emulator. Dropping it stops accepting new connections; [`shutdown`](Self::shutdown)
/// also closes the open ones (each gets its `$disconnect`).
pub struct Emulator {
    addr: SocketAddr,
    state: Arc<EmulatorState>,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
}

impl Emulator {
    /// Binds the address of the app's [`LocalConfig`] and serves the app there.
    pub async fn start(mut app: App) -> Result<Emulator, crate::Error> {
        let config = std::mem::take(&mut app.local);
        app.store_from_env(true).await?;
        let selection = config.selection_path()?;
        let addr = match config.addr {
            Some(addr) => addr,
            None => std::env::var("LIFT_LOCAL_ADDR")
                .ok()
                .filter(|s| !s.is_empty())
                .as_deref()
                .unwrap_or(DEFAULT_ADDR)
                .parse()
                .map_err(|err| {
                    format!("LIFT_LOCAL_ADDR is not an address like {DEFAULT_ADDR}: {err}")
                })?,
        };
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|err| format!("cannot listen on {addr}: {err}"))?;
        let addr = listener.local_addr()?;

        if app.management_endpoint.take().is_some() {
            tracing::debug!("ignoring the Management API endpoint: the emulator serves its own");
        }
        let sdk_config = app
            .sdk_config
            .take()
            .unwrap_or_else(crate::app::local_sdk_config);
        let service = app.build(Endpoint::FromEvent { scheme: "http" }, move |endpoint| {
            Arc::new(SdkManagement::new(&sdk_config, endpoint))
        });
        let state = Arc::new(EmulatorState {
            service,
            config,
            selection,
            domain: addr.to_string(),
            connections: Mutex::new(HashMap::new()),
        });

        let routes = axum::Router::new()
            .route("/", get(upgrade_root))
            .route("/{stage}", get(upgrade_stage))
            .route(
                "/@connections/{id}",
                post(post_root).get(get_root).delete(delete_root),
            )
            .route(
                "/{stage}/@connections/{id}",
                post(post_stage).get(get_stage).delete(delete_stage),
            )
            .with_state(state.clone())
            .into_make_service_with_connect_info::<SocketAddr>();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, routes).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(err) = serve.await {
                tracing::error!(error = %err, "the emulator stopped");
            }
        });
        Ok(Emulator {
            addr,
            state,
            stop: Some(stop),
            server,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The WebSocket URL clients connect to, `ws://127.0.0.1:3001`.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The Management API endpoint for the default stage, `http://127.0.0.1:3001/local`.
    pub fn management_endpoint(&self) -> String {
        format!("http://{}/{}", self.addr, self.state.config.stage)
    }

    /// The service the emulator feeds events to.
    pub fn service(&self) -> &Service {
        &self.state.service
    }

    /// Ids of the open connections.
    pub fn connection_ids(&self) -> Vec<String> {
        self.state.lock().keys().cloned().collect()
    }

    /// Closes every connection (1001, `Going away`) and stops the server.
    pub async fn shutdown(mut self) {
        let open: Vec<_> = self.state.lock().drain().collect();
        for (_, conn) in open {
            conn.close(1001, "Going away");
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.server).await;
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

struct EmulatorState {
    service: Service,
    config: LocalConfig,
    selection: Vec<String>,
    domain: String,
    connections: Mutex<HashMap<String, Arc<LocalConnection>>>,
}

enum Outbound {
    Frame(Message),
    Close(u16, String),
}

struct LocalConnection {
    tx: mpsc::UnboundedSender<Outbound>,
    stage: String,
    connected_at: SystemTime,
    last_active_at: Mutex<SystemTime>,
    source_ip: String,
    user_agent: Option<String>,
    headers: Value,
}

impl LocalConnection {
    fn close(&self, code: u16, reason: &str) {
        let _ = self.tx.send(Outbound::Close(code, reason.to_owned()));
    }

    fn touch(&self) {
        *self
            .last_active_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = SystemTime::now();
    }
}

impl EmulatorState {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<LocalConnection>>> {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, id: &str) -> Option<Arc<LocalConnection>> {
        self.lock().get(id).cloned()
    }

    fn invocation(&self) -> Invocation {
        Invocation {
            request_id: ids::request_id(),
            deadline: Some(Instant::now() + self.config.invocation_timeout),
        }
    }

    /// The request context shared by every event of a connection.
    fn request_context(
        &self,
        id: &str,
        conn_stage: &str,
        connected_at: SystemTime,
        source_ip: &str,
        user_agent: Option<&str>,
    ) -> Map<String, Value> {
        request_context(
            &self.domain,
            "local",
            conn_stage,
            id,
            connected_at,
            source_ip,
            user_agent,
        )
    }

    fn event(
        mut context: Map<String, Value>,
        route_key: &str,
        event_type: &str,
        rest: Value,
    ) -> Result<ApiGatewayWebsocketProxyRequest, WsError> {
        context.insert("routeKey".into(), route_key.into());
        context.insert("eventType".into(), event_type.into());
        let mut event = match rest {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        event.insert("requestContext".into(), Value::Object(context));
        serde_json::from_value(Value::Object(event))
            .map_err(|err| WsError::internal(format!("the emulator built an invalid event: {err}")))
    }

    /// The route API Gateway would select for this body.
    fn select_route(&self, body: &str) -> RouteKey {
        let value = serde_json::from_str::<Value>(body).ok();
        let selected = value.as_ref().and_then(|value| {
            self.selection
                .iter()
                .try_fold(value, |v, key| v.get(key))?
                .as_str()
        });
        self.service.router().select(selected)
    }

    /// A text message from a client.
    async fn on_message(&self, id: &str, conn: &LocalConnection, body: String) {
        conn.touch();
        let size = body.len();
        if size > self.config.max_message_size {
            let err = WsError::too_large(size, self.config.max_message_size);
            let _ = conn.tx.send(Outbound::Frame(Message::text(err.to_frame())));
            return;
        }
        if size > API_GATEWAY_FRAME_SIZE {
            tracing::warn!(
                connection_id = id,
                size,
                "a message over 32 KB: API Gateway closes the connection with 1009 if it came as \
                 one frame over 32 KB (browsers send each message as one frame)"
            );
        }
        let route_key = self.select_route(&body);
        let mut context = self.request_context(
            id,
            &conn.stage,
            conn.connected_at,
            &conn.source_ip,
            conn.user_agent.as_deref(),
        );
        context.insert("messageId".into(), ids::request_id().into());
        let event = match Self::event(
            context,
            route_key.as_str(),
            "MESSAGE",
            json!({"body": body, "isBase64Encoded": false}),
        ) {
            Ok(event) => event,
            Err(err) => {
                let _ = conn.tx.send(Outbound::Frame(Message::text(err.to_frame())));
                return;
            }
        };
        let handled = tokio::time::timeout(
            self.config.invocation_timeout,
            self.service.handle(event, self.invocation()),
        )
        .await;
        let response = match handled {
            Ok(response) => response,
            Err(_) => {
                let err = WsError::new(504, "timeout", "the handler did not answer in time");
                let _ = conn.tx.send(Outbound::Frame(Message::text(err.to_frame())));
                return;
            }
        };
        if self.service.router().resolve(&route_key).replies() {
            let frame = match response.body {
                Some(EventBody::Text(text)) if !text.is_empty() => Message::text(text),
                Some(EventBody::Binary(bytes)) if !bytes.is_empty() => Message::binary(bytes),
                _ => return,
            };
            let _ = conn.tx.send(Outbound::Frame(frame));
        }
    }

    async fn on_disconnect(&self, id: &str, conn: &LocalConnection, code: u16, reason: &str) {
        let mut context = self.request_context(
            id,
            &conn.stage,
            conn.connected_at,
            &conn.source_ip,
            conn.user_agent.as_deref(),
        );
        context.insert("disconnectStatusCode".into(), code.into());
        context.insert("disconnectReason".into(), reason.into());
        let rest = json!({"headers": conn.headers, "isBase64Encoded": false});
        match Self::event(context, "$disconnect", "DISCONNECT", rest) {
            Ok(event) => {
                let _ = tokio::time::timeout(
                    self.config.invocation_timeout,
                    self.service.handle(event, self.invocation()),
                )
                .await;
            }
            Err(err) => tracing::error!(error = %err, "could not build the $disconnect event"),
        }
    }
}

/// API Gateway's two views of repeated names (headers, query parameters): the last value of
/// each, and every value of each.
fn single_and_multi(
    pairs: impl Iterator<Item = (String, String)>,
) -> (Map<String, Value>, Map<String, Value>) {
    let mut single = Map::new();
    let mut multi = Map::new();
    for (name, value) in pairs {
        single.insert(name.clone(), value.clone().into());
        if let Value::Array(values) = multi
            .entry(name)
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            values.push(value.into());
        }
    }
    (single, multi)
}

/// The `requestContext` API Gateway puts in every event of a connection (without `routeKey`
/// and `eventType`).
pub(crate) fn request_context(
    domain: &str,
    api_id: &str,
    stage: &str,
    id: &str,
    connected_at: SystemTime,
    source_ip: &str,
    user_agent: Option<&str>,
) -> Map<String, Value> {
    let now = chrono::Utc::now();
    let context = json!({
        "stage": stage,
        "requestId": ids::request_id(),
        "extendedRequestId": ids::request_id(),
        "requestTime": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
        "requestTimeEpoch": now.timestamp_millis(),
        "messageDirection": "IN",
        "connectedAt": epoch_millis(connected_at),
        "identity": {"sourceIp": source_ip, "userAgent": user_agent},
        "domainName": domain,
        "connectionId": id,
        "apiId": api_id,
    });
    match context {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

fn epoch_millis(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn iso8601(time: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(time).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

type Shared = State<Arc<EmulatorState>>;

async fn upgrade_root(
    state: Shared,
    peer: ConnectInfo<SocketAddr>,
    query: RawQuery,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let stage = state.config.stage.clone();
    upgrade(state, peer, stage, query, headers, ws).await
}

async fn upgrade_stage(
    state: Shared,
    peer: ConnectInfo<SocketAddr>,
    Path(stage): Path<String>,
    query: RawQuery,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    upgrade(state, peer, stage, query, headers, ws).await
}

async fn upgrade(
    State(state): Shared,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    stage: String,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let Ok(ws) = ws else {
        return match &state.config.page {
            Some(page) => Html(page.clone()).into_response(),
            None => (
                StatusCode::UPGRADE_REQUIRED,
                "this is a WebSocket endpoint: connect with a WebSocket client",
            )
                .into_response(),
        };
    };
    let id = ids::connection_id();
    let connected_at = SystemTime::now();
    let source_ip = peer.ip().to_string();
    let user_agent = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);

    let (single, multi) = single_and_multi(headers.iter().map(|(name, value)| {
        (
            name.to_string(),
            String::from_utf8_lossy(value.as_bytes()).into_owned(),
        )
    }));
    let (query_single, query_multi) = single_and_multi(
        form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned())),
    );
    let headers_json = Value::Object(single);
    let context =
        state.request_context(&id, &stage, connected_at, &source_ip, user_agent.as_deref());
    let rest = json!({
        "headers": headers_json,
        "multiValueHeaders": multi,
        "queryStringParameters": if query_single.is_empty() { Value::Null } else { Value::Object(query_single) },
        "multiValueQueryStringParameters": if query_multi.is_empty() { Value::Null } else { Value::Object(query_multi) },
        "isBase64Encoded": false,
    });
    let event = match EmulatorState::event(context, "$connect", "CONNECT", rest) {
        Ok(event) => event,
        Err(err) => return (StatusCode::INTERNAL_SERVER_ERROR, err.to_frame()).into_response(),
    };
    let handled = tokio::time::timeout(
        state.config.invocation_timeout,
        state.service.handle(event, state.invocation()),
    )
    .await;
    let Ok(response) = handled else {
        return (
            StatusCode::GATEWAY_TIMEOUT,
            "the $connect handler did not answer in time",
        )
            .into_response();
    };
    let status = StatusCode::from_u16(u16::try_from(response.status_code).unwrap_or(500))
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if !status.is_success() {
        let body = match response.body {
            Some(EventBody::Text(text)) => text,
            _ => String::new(),
        };
        return (status, [("content-type", "application/json")], body).into_response();
    }

    let (tx, rx) = mpsc::unbounded_channel();
    let conn = Arc::new(LocalConnection {
        tx,
        stage,
        connected_at,
        last_active_at: Mutex::new(connected_at),
        source_ip,
        user_agent,
        headers: headers_json,
    });
    // Registered before the handshake completes, so a message posted the instant after is queued.
    state.lock().insert(id.clone(), conn.clone());
    let mut ws = ws.max_message_size(state.config.max_message_size.max(1 << 20));
    if let Some(protocol) = response.headers.get("sec-websocket-protocol") {
        ws.set_selected_protocol(HeaderValue::from(protocol));
    }
    let failed_state = state.clone();
    let failed_id = id.clone();
    ws.on_failed_upgrade(move |err| {
        tracing::warn!(error = %err, "WebSocket upgrade failed");
        failed_state.lock().remove(&failed_id);
    })
    .on_upgrade(move |socket| serve_socket(state, id, conn, socket, rx))
}

async fn serve_socket(
    state: Arc<EmulatorState>,
    id: String,
    conn: Arc<LocalConnection>,
    socket: WebSocket,
    mut rx: mpsc::UnboundedReceiver<Outbound>,
) {
    let (mut sink, mut stream) = socket.split();
    // Fired when the server has sent a close frame (DELETE, timeouts, shutdown).
    let (closed_tx, mut closed_rx) = oneshot::channel::<(u16, String)>();
    let writer = tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            match out {
                Outbound::Frame(frame) => {
                    if sink.send(frame).await.is_err() {
                        break;
                    }
                }
                Outbound::Close(code, reason) => {
                    let frame = CloseFrame {
                        code,
                        reason: reason.clone().into(),
                    };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    let _ = closed_tx.send((code, reason));
                    break;
                }
            }
        }
    });

    let end_of_life = tokio::time::Instant::now() + state.config.max_lifetime;
    let mut timed_out = false;
    let (code, reason) = loop {
        let idle_end = tokio::time::Instant::now() + state.config.idle_timeout;
        let wait_until = if timed_out {
            // Already closing: wait for the close to go out instead of timing out again.
            end_of_life.max(idle_end)
        } else {
            idle_end.min(end_of_life)
        };
        let next = tokio::select! {
            next = tokio::time::timeout_at(wait_until, stream.next()) => next,
            Ok((code, reason)) = &mut closed_rx => {
                // The server closed: give the client a moment to answer, then drop it.
                let _ = tokio::time::timeout(CLOSE_GRACE, async {
                    while let Some(Ok(message)) = stream.next().await {
                        if matches!(message, Message::Close(_)) {
                            break;
                        }
                    }
                })
                .await;
                break (code, reason);
            }
        };
        let message = match next {
            Err(_) => {
                conn.close(1001, "Going away");
                timed_out = true;
                continue;
            }
            Ok(None) => break (1006, String::new()),
            Ok(Some(Err(err))) => {
                let code = if err.to_string().to_lowercase().contains("too long") {
                    1009
                } else {
                    1006
                };
                break (code, err.to_string());
            }
            Ok(Some(Ok(message))) => message,
        };
        match message {
            Message::Text(text) => state.on_message(&id, &conn, text.to_string()).await,
            Message::Binary(bytes) => {
                // API Gateway accepts text frames only: it closes the connection with 1003.
                tracing::warn!(
                    connection_id = %id,
                    size = bytes.len(),
                    "a binary frame: API Gateway closes the connection with 1003 (send text, e.g. base64)"
                );
                conn.close(1003, BINARY_REFUSED);
            }
            Message::Close(frame) => {
                break frame.map_or((1005, String::new()), |f| (f.code, f.reason.to_string()));
            }
            Message::Ping(_) | Message::Pong(_) => conn.touch(),
        }
    };
    state.lock().remove(&id);
    // The close handshake is done (or the peer is gone): nothing more can be delivered.
    writer.abort();
    state.on_disconnect(&id, &conn, code, &reason).await;
}

async fn post_root(state: Shared, Path(id): Path<String>, body: Bytes) -> Response {
    latency(&state).await;
    post_message(state, id, body)
}

async fn post_stage(state: Shared, Path((_, id)): Path<(String, String)>, body: Bytes) -> Response {
    latency(&state).await;
    post_message(state, id, body)
}

async fn latency(state: &Shared) {
    if !state.config.management_latency.is_zero() {
        tokio::time::sleep(state.config.management_latency).await;
    }
}

async fn get_root(state: Shared, Path(id): Path<String>) -> Response {
    describe(state, id)
}

async fn get_stage(state: Shared, Path((_, id)): Path<(String, String)>) -> Response {
    describe(state, id)
}

async fn delete_root(state: Shared, Path(id): Path<String>) -> Response {
    close(state, id)
}

async fn delete_stage(state: Shared, Path((_, id)): Path<(String, String)>) -> Response {
    close(state, id)
}

fn aws_error(status: StatusCode, kind: &str, message: String) -> Response {
    (
        status,
        [
            ("x-amzn-errortype", kind),
            ("content-type", "application/json"),
        ],
        json!({"message": message}).to_string(),
    )
        .into_response()
}

fn gone(id: &str) -> Response {
    aws_error(
        StatusCode::GONE,
        "GoneException",
        format!("connection {id} is gone"),
    )
}

fn post_message(State(state): Shared, id: String, body: Bytes) -> Response {
    let Some(conn) = state.get(&id) else {
        return gone(&id);
    };
    if body.len() > MAX_MESSAGE_SIZE {
        return aws_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLargeException",
            format!(
                "message of {} bytes is over the {MAX_MESSAGE_SIZE}-byte limit",
                body.len()
            ),
        );
    }
    let frame = match std::str::from_utf8(&body) {
        Ok(text) => Message::text(text),
        Err(_) => Message::binary(body),
    };
    match conn.tx.send(Outbound::Frame(frame)) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(_) => gone(&id),
    }
}

fn describe(State(state): Shared, id: String) -> Response {
    let Some(conn) = state.get(&id) else {
        return gone(&id);
    };
    let last_active = *conn
        .last_active_at
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let body = json!({
        "connectedAt": iso8601(conn.connected_at),
        "lastActiveAt": iso8601(last_active),
        "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
    });
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn close(State(state): Shared, id: String) -> Response {
    let Some(conn) = state.lock().remove(&id) else {
        return gone(&id);
    };
    conn.close(1000, "");
    StatusCode::NO_CONTENT.into_response()
}
