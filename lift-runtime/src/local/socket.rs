//! The WebSocket side of the emulator: the handshake becomes `$connect`, text frames become
//! MESSAGE events routed as API Gateway routes them, a close becomes `$disconnect`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use aws_lambda_events::encodings::Body as EventBody;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};

use super::state::{
    EmulatorState, LocalConnection, Outcome, Selected, Shared, ToClient, API_GATEWAY_FRAME_SIZE,
    BINARY_REFUSED, CLOSE_GRACE,
};
use crate::error::WsError;
use crate::events;
use crate::ids;
use crate::route_key::RouteKey;

impl EmulatorState {
    /// What the events of a connection say about it.
    fn origin<'a>(&'a self, id: &'a str, conn: &'a LocalConnection) -> events::Origin<'a> {
        events::Origin {
            domain: &self.domain,
            api_id: "local",
            stage: &conn.stage,
            connection_id: id,
            connected_at: conn.connected_at,
            source_ip: &conn.source_ip,
            user_agent: conn.user_agent.as_deref(),
            authorizer: conn.authorizer.as_ref(),
        }
    }

    /// The route API Gateway would select for this body, resolved once: the invocation and
    /// the reply below use what is found here.
    fn select_route(&self, body: &str) -> Selected {
        self.select(super::config::selected_key(&self.selection, body).as_deref())
    }

    /// A text message from a client.
    async fn on_message(&self, id: &str, conn: &LocalConnection, body: String) {
        conn.touch();
        // The emulator's own error frames about this message carry its `requestId` too.
        let request_id = crate::inbound::request_id(Some(&body));
        let error_frame = |err: WsError| {
            let frame = match &request_id {
                Some(id) => crate::inbound::with_request_id(err.to_frame(), id),
                None => err.to_frame(),
            };
            ToClient::Frame(Message::text(frame))
        };
        let size = body.len();
        if size > self.config.max_message_size {
            let err = WsError::too_large(size, self.config.max_message_size);
            let _ = conn.tx.send(error_frame(err));
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
        let selected = match self.select_route(&body) {
            // As the MOCK integration of the deployed keep-alive route: no invocation.
            Selected::Mock(answer) => {
                if let Some(answer) = answer {
                    let _ = conn.tx.send(ToClient::Frame(Message::text(answer)));
                }
                return;
            }
            // No route and no `$default`: what API Gateway answers.
            Selected::Nowhere => {
                let _ = conn
                    .tx
                    .send(ToClient::Frame(Message::text(api_gateway_error(
                        "Forbidden",
                        id,
                        &ids::request_id(),
                    ))));
                return;
            }
            selected => selected,
        };
        let replies = selected.replies();
        let key = selected.key().cloned().unwrap_or(RouteKey::Default);
        let event = events::message(&self.origin(id, conn), &key, body);
        let request_id = event.request_context.request_id.clone().unwrap_or_default();
        let response = match self.invoke(event, selected).await {
            Outcome::Answered(response) => response,
            Outcome::TimedOut => {
                let err = WsError::new(504, "timeout", "the handler did not answer in time");
                let _ = conn.tx.send(error_frame(err));
                return;
            }
            Outcome::Failed => {
                let frame = api_gateway_error("Internal server error", id, &request_id);
                let _ = conn.tx.send(ToClient::Frame(Message::text(frame)));
                return;
            }
        };
        if replies {
            let frame = match response.body {
                Some(EventBody::Text(text)) if !text.is_empty() => Message::text(text),
                Some(EventBody::Binary(bytes)) if !bytes.is_empty() => Message::binary(bytes),
                _ => return,
            };
            let _ = conn.tx.send(ToClient::Frame(frame));
        }
    }

    async fn on_disconnect(&self, id: &str, conn: &LocalConnection, code: u16, reason: &str) {
        let selected = self.resolve(RouteKey::Disconnect);
        if matches!(selected, Selected::Nowhere) {
            return;
        }
        let event = events::disconnect(&self.origin(id, conn), &conn.headers, code, reason);
        self.invoke(event, selected).await;
    }
}

/// A frame API Gateway sends a client itself: `{"message":"Forbidden","connectionId":...,
/// "requestId":...}` for a message no route takes, `Internal server error` when the
/// integration failed.
fn api_gateway_error(message: &str, connection_id: &str, request_id: &str) -> String {
    serde_json::json!({
        "message": message,
        "connectionId": connection_id,
        "requestId": request_id,
    })
    .to_string()
}

pub(super) async fn upgrade_root(
    state: Shared,
    peer: ConnectInfo<SocketAddr>,
    query: RawQuery,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let stage = state.config.stage.clone();
    upgrade(state, peer, stage, query, headers, ws).await
}

pub(super) async fn upgrade_stage(
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
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return refused_upgrade(&state, &headers, rejection),
    };
    let id = ids::connection_id();
    let (tx, rx) = mpsc::unbounded_channel();
    let connected_at = SystemTime::now();
    let source_ip = peer.ip().to_string();
    let user_agent = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);

    let header_pairs: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| {
            (
                name.to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let query_pairs: Vec<(String, String)> =
        form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
    // The app's `$connect` authorizer first, as API Gateway runs it: a refusal never reaches
    // `$connect`.
    let authorizer = if state.authorizer {
        let origin = events::Origin {
            domain: &state.domain,
            api_id: "local",
            stage: &stage,
            connection_id: &id,
            connected_at,
            source_ip: &source_ip,
            user_agent: user_agent.as_deref(),
            authorizer: None,
        };
        let request = events::authorizer_request(&origin, &header_pairs, &query_pairs);
        match state.authorize(request, &id).await {
            Ok(context) => Some(context),
            Err((status, body)) => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
                return (status, [("content-type", "application/json")], body).into_response();
            }
        }
    } else {
        None
    };
    let conn = Arc::new(LocalConnection {
        tx,
        stage,
        connected_at,
        last_active_at: Mutex::new(connected_at),
        source_ip,
        user_agent,
        headers: header_pairs,
        authorizer,
    });
    let event = events::connect(&state.origin(&id, &conn), &conn.headers, &query_pairs);
    let response = match state.invoke(event, state.resolve(RouteKey::Connect)).await {
        Outcome::Answered(response) => response,
        Outcome::TimedOut => {
            return (
                StatusCode::GATEWAY_TIMEOUT,
                "the $connect handler did not answer in time",
            )
                .into_response()
        }
        Outcome::Failed => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                [("content-type", "application/json")],
                r#"{"message":"Internal server error"}"#,
            )
                .into_response()
        }
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

    // Registered before the handshake completes, so a message posted the instant after is queued.
    state.lock().insert(id.clone(), conn.clone());
    // API Gateway's limits are the WebSocket library's, so an oversized frame or message
    // closes the connection with 1009 as in AWS; lenient, they are raised so the app answers
    // an error frame instead.
    let mut ws = if state.config.lenient_limits {
        ws.max_message_size(state.config.max_message_size.max(1 << 20))
    } else {
        ws.max_message_size(state.config.max_message_size)
            .max_frame_size(API_GATEWAY_FRAME_SIZE)
    };
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

/// The answer to a request the WebSocket upgrade refused: a plain GET (no `Upgrade:
/// websocket`) gets the page, if any, else 426; a WebSocket handshake of another version gets
/// 426 naming version 13 (RFC 6455 §4.4); any other malformed handshake gets the reason, 400.
fn refused_upgrade(
    state: &EmulatorState,
    headers: &HeaderMap,
    rejection: axum::extract::ws::rejection::WebSocketUpgradeRejection,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let wants_websocket = header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !wants_websocket {
        return match &state.config.page {
            Some(page) => Html(page.clone()).into_response(),
            None => (
                StatusCode::UPGRADE_REQUIRED,
                "this is a WebSocket endpoint: connect with a WebSocket client",
            )
                .into_response(),
        };
    }
    if header("sec-websocket-version").is_some_and(|v| v.trim() != "13") {
        return (
            StatusCode::UPGRADE_REQUIRED,
            [("sec-websocket-version", "13")],
            "this endpoint speaks WebSocket version 13",
        )
            .into_response();
    }
    tracing::info!(reason = %rejection.body_text(), "a malformed WebSocket handshake");
    rejection.into_response()
}

async fn serve_socket(
    state: Arc<EmulatorState>,
    id: String,
    conn: Arc<LocalConnection>,
    socket: WebSocket,
    mut rx: mpsc::UnboundedReceiver<ToClient>,
) {
    let (mut sink, mut stream) = socket.split();
    // Fired when the server has sent a close frame (DELETE, timeouts, shutdown).
    let (closed_tx, mut closed_rx) = oneshot::channel::<(u16, String)>();
    let writer = tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            match out {
                ToClient::Frame(frame) => {
                    if sink.send(frame).await.is_err() {
                        break;
                    }
                }
                ToClient::Close(code, reason) => {
                    let frame = CloseFrame {
                        code,
                        reason: reason.clone().into(),
                    };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    let _ = closed_tx.send((code, reason));
                    break;
                }
                ToClient::Drop => {
                    let _ = closed_tx.send((1006, String::new()));
                    break;
                }
            }
        }
    });

    let end_of_life = tokio::time::Instant::now() + state.config.max_lifetime;
    let mut timed_out = false;
    // A oneshot is polled no more once it has answered (its sender may also be dropped, when
    // the writer stopped on a failed send: that answer is an error, and it is not a close).
    let mut close_seen = false;
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
            closed = &mut closed_rx, if !close_seen => {
                close_seen = true;
                let Ok((code, reason)) = closed else {
                    // The writer stopped (the client is gone): reading ends it too.
                    continue;
                };
                if code == 1006 {
                    // Dropped: no close handshake.
                    break (code, reason);
                }
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
                let text = err.to_string();
                let Some((code, reason)) = close_for(err) else {
                    break (1006, text);
                };
                tracing::warn!(connection_id = %id, code, error = %text, "closing the connection");
                conn.close(code, reason);
                if !close_seen {
                    let _ = tokio::time::timeout(CLOSE_GRACE, &mut closed_rx).await;
                }
                break (code, reason.to_owned());
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
                // Reading on sends the close frame the WebSocket library queued in answer
                // (RFC 6455 §5.5.1), then ends.
                let _ = tokio::time::timeout(CLOSE_GRACE, async {
                    while let Some(Ok(_)) = stream.next().await {}
                })
                .await;
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

/// The close frame a read error calls for, as API Gateway and RFC 6455 answer it: a frame or
/// message over the limits is 1009, a text frame that is not UTF-8 is 1007, a frame RFC 6455
/// forbids (unmasked, reserved opcode or bits, a control frame over 125 bytes, a bad close
/// code, a stray continuation) 1002; `None` when the connection is just gone (an I/O error, a
/// reset without a close handshake): 1006, and no frame can be sent.
fn close_for(err: axum::Error) -> Option<(u16, &'static str)> {
    use tungstenite::error::{CapacityError, Error, ProtocolError};
    match *err.into_inner().downcast::<Error>().ok()? {
        Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        Error::Protocol(_) => Some((1002, "Protocol error")),
        Error::Capacity(CapacityError::MessageTooLong { .. }) => Some((1009, "Message too big")),
        Error::Utf8(_) => Some((1007, "Invalid UTF-8 in a text frame")),
        _ => None,
    }
}
