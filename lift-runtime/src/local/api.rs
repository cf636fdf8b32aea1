//! The emulator's Management API, wire-compatible with the AWS SDKs: `POST` sends, `GET`
//! describes, `DELETE` closes; an unknown id is `410` with `x-amzn-errortype: GoneException`.
//! Every request's SigV4 signature is checked first ([`check_signature`]).

use std::sync::PoisonError;
use std::time::SystemTime;

use axum::body::{Body, Bytes};
use axum::extract::ws::Message;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::signature;
use super::state::{EmulatorState, Shared, ToClient};
use crate::outbound::MAX_MESSAGE_SIZE;

/// The largest request body read to check its signature (a `POST` over 128 KB is answered
/// `413 PayloadTooLargeException` after the check, as API Gateway does).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// Refuses a request whose SigV4 signature is missing or wrong (403, as API Gateway answers:
/// `MissingAuthenticationTokenException`, `InvalidSignatureException`,
/// `UnrecognizedClientException`), else passes it on.
pub(super) async fn check_signature(state: Shared, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return aws_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLargeException",
            format!("the request body is over {MAX_BODY} bytes"),
        );
    };
    let checked = if state.config.check_signatures {
        signature::verify(
            &state.config.credentials,
            state.config.any_access_key,
            &parts.method,
            &parts.uri,
            &parts.headers,
            &bytes,
        )
    } else {
        Ok(())
    };
    if let Err(refused) = checked {
        tracing::warn!(
            kind = refused.kind,
            reason = %refused.message,
            "a Management API request was refused"
        );
        return aws_error(refused.status, refused.kind, refused.message);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

pub(super) async fn post_root(state: Shared, Path(id): Path<String>, body: Bytes) -> Response {
    latency(&state).await;
    post_message(state, id, body)
}

pub(super) async fn post_stage(
    state: Shared,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    latency(&state).await;
    post_message(state, id, body)
}

async fn latency(state: &Shared) {
    if !state.config.management_latency.is_zero() {
        tokio::time::sleep(state.config.management_latency).await;
    }
}

pub(super) async fn get_root(state: Shared, Path(id): Path<String>) -> Response {
    describe(state, id)
}

pub(super) async fn get_stage(state: Shared, Path((_, id)): Path<(String, String)>) -> Response {
    describe(state, id)
}

pub(super) async fn delete_root(state: Shared, Path(id): Path<String>) -> Response {
    close(state, id)
}

pub(super) async fn delete_stage(state: Shared, Path((_, id)): Path<(String, String)>) -> Response {
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
    let response = deliver(&state, &id, &body);
    state
        .journal
        .call("POST", &id, response.status().as_u16(), &body);
    response
}

fn deliver(state: &EmulatorState, id: &str, body: &Bytes) -> Response {
    let Some(conn) = state.get(id) else {
        return gone(id);
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
    let frame = match std::str::from_utf8(body) {
        Ok(text) => Message::text(text),
        Err(_) => Message::binary(body.clone()),
    };
    match conn.tx.send(ToClient::Frame(frame)) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(_) => gone(id),
    }
}

fn describe(State(state): Shared, id: String) -> Response {
    let Some(conn) = state.get(&id) else {
        state.journal.call("GET", &id, 410, b"");
        return gone(&id);
    };
    state.journal.call("GET", &id, 200, b"");
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
        state.journal.call("DELETE", &id, 410, b"");
        return gone(&id);
    };
    state.journal.call("DELETE", &id, 204, b"");
    conn.close(1000, "");
    StatusCode::NO_CONTENT.into_response()
}

fn iso8601(time: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(time).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
