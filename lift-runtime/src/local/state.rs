//! What the emulator's parts share: the open connections and the service they feed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use axum::extract::ws::Message;
use axum::extract::State;
use tokio::sync::mpsc;

use super::journal::Journal;
use crate::ids;
use crate::router::Resolved;
use crate::service::{Invocation, Service};
use crate::settings::LocalSettings;

/// The close reason for a binary frame (API Gateway does not document its own).
pub(super) const BINARY_REFUSED: &str = "binary frames are not supported";

/// API Gateway's largest WebSocket frame from a client (32 KB).
pub(super) const API_GATEWAY_FRAME_SIZE: usize = 32 * 1024;

/// How long the server waits for the client's answer after it sent a close frame.
pub(super) const CLOSE_GRACE: Duration = Duration::from_secs(1);

pub(super) struct EmulatorState {
    pub(super) service: Service,
    pub(super) config: LocalSettings,
    pub(super) selection: Vec<String>,
    /// The keep-alive route, answered here as API Gateway's MOCK integration answers it.
    pub(super) keepalive: Option<String>,
    pub(super) domain: String,
    pub(super) connections: Mutex<HashMap<String, Arc<LocalConnection>>>,
    /// The last events and Management API calls, for the inspector.
    pub(super) journal: Journal,
}

pub(super) enum ToClient {
    Frame(Message),
    Close(u16, String),
    /// Ends the TCP connection without a close frame, as a dropped network does (the client
    /// sees 1006).
    Drop,
}

pub(super) struct LocalConnection {
    pub(super) tx: mpsc::UnboundedSender<ToClient>,
    pub(super) stage: String,
    pub(super) connected_at: SystemTime,
    pub(super) last_active_at: Mutex<SystemTime>,
    pub(super) source_ip: String,
    pub(super) user_agent: Option<String>,
    /// The handshake's headers (API Gateway repeats them in `$disconnect`).
    pub(super) headers: Vec<(String, String)>,
    /// What the `$connect` authorizer said (its context and principal), carried by every event.
    pub(super) authorizer: Option<serde_json::Map<String, serde_json::Value>>,
}

impl LocalConnection {
    pub(super) fn close(&self, code: u16, reason: &str) {
        let _ = self.tx.send(ToClient::Close(code, reason.to_owned()));
    }

    pub(super) fn touch(&self) {
        *self
            .last_active_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = SystemTime::now();
    }
}

impl EmulatorState {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<LocalConnection>>> {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn get(&self, id: &str) -> Option<Arc<LocalConnection>> {
        self.lock().get(id).cloned()
    }

    /// Hands `event`, whose route is `resolved`, to the service as Lambda would, within the
    /// invocation timeout (`None` when it ran out), and notes it in the journal.
    pub(super) async fn invoke(
        &self,
        event: ApiGatewayWebsocketProxyRequest,
        resolved: Resolved,
    ) -> Option<ApiGatewayProxyResponse> {
        let route = resolved.key.as_str().to_owned();
        let connection = event
            .request_context
            .connection_id
            .clone()
            .unwrap_or_default();
        let started = Instant::now();
        let handled = tokio::time::timeout(
            self.config.invocation_timeout,
            self.service
                .handle_event(event, Some(resolved), self.invocation()),
        )
        .await;
        let took = started.elapsed();
        match &handled {
            Ok(response) => {
                let body = match &response.body {
                    Some(aws_lambda_events::encodings::Body::Text(text)) => Some(text.as_str()),
                    _ => None,
                };
                let status = u16::try_from(response.status_code).unwrap_or(500);
                self.journal.event(&route, &connection, status, body, took);
            }
            Err(_) => {
                let body = r#"{"type":"error","code":"timeout"}"#;
                self.journal
                    .event(&route, &connection, 504, Some(body), took);
            }
        }
        handled.ok()
    }

    /// Runs the app's `$connect` authorizer on a handshake, as API Gateway does before
    /// `$connect`: what it allowed (its context, the principal and the latency, as events carry
    /// them), or the handshake's refusal (401 `Unauthorized`, 403 `Forbidden`; 500 if it did
    /// not answer with a policy, 504 if not in time).
    pub(super) async fn authorize(
        &self,
        request: serde_json::Value,
        connection: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, (u16, &'static str)> {
        use crate::service::LambdaResponse;
        const ROUTE: &str = "$connect (authorizer)";
        let started = Instant::now();
        let answered = tokio::time::timeout(
            self.config.invocation_timeout,
            self.service.handle_lambda(request, self.invocation()),
        )
        .await;
        let took = started.elapsed();
        let (status, message) = match answered {
            Ok(LambdaResponse::Authorizer(answer)) => {
                let allowed = answer.policy_document.statement.iter().all(|statement| {
                    statement.effect == aws_lambda_events::iam::IamPolicyEffect::Allow
                }) && !answer.policy_document.statement.is_empty();
                if allowed {
                    self.journal.event(ROUTE, connection, 200, None, took);
                    let mut context = match answer.context {
                        serde_json::Value::Object(context) => context,
                        _ => serde_json::Map::new(),
                    };
                    context.insert(
                        "principalId".into(),
                        answer.principal_id.unwrap_or_default().into(),
                    );
                    context.insert(
                        "integrationLatency".into(),
                        (took.as_millis() as u64).into(),
                    );
                    return Ok(context);
                }
                (403, r#"{"message":"Forbidden"}"#)
            }
            Ok(LambdaResponse::Unauthorized) => (401, r#"{"message":"Unauthorized"}"#),
            Ok(_) => (500, r#"{"message":"Internal server error"}"#),
            Err(_) => (504, r#"{"message":"Endpoint request timed out"}"#),
        };
        self.journal
            .event(ROUTE, connection, status, Some(message), took);
        Err((status, message))
    }

    fn invocation(&self) -> Invocation {
        Invocation {
            request_id: ids::request_id(),
            deadline: Some(Instant::now() + self.config.invocation_timeout),
            trace_id: None,
        }
    }
}

pub(super) type Shared = State<Arc<EmulatorState>>;
