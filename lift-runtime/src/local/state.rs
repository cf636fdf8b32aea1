//! What the emulator's parts share: the open connections and the service they feed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use axum::extract::ws::Message;
use axum::extract::State;
use tokio::sync::mpsc;

use super::invoke::{Functions, Invoked};
use super::journal::Journal;
use super::template::Target;
use crate::ids;
use crate::route_key::RouteKey;
use crate::router::Resolved;
use crate::service::{Invocation, Service};
use crate::settings::LocalSettings;

/// The close reason for a binary frame (API Gateway does not document its own).
pub(super) const BINARY_REFUSED: &str = "binary frames are not supported";

/// API Gateway's largest WebSocket frame from a client (32 KB).
pub(super) const API_GATEWAY_FRAME_SIZE: usize = 32 * 1024;

/// How long the server waits for the client's answer after it sent a close frame.
pub(super) const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Where the emulator's events go.
pub(super) enum Backend {
    /// The app in this process (`App::run`, `TestApp`).
    Service(Service),
    /// Functions behind a Lambda Invoke API (`lift-emulator`).
    Functions(Box<Functions>),
}

/// Where one event goes: its route key and what serves it.
pub(super) enum Selected {
    /// The app in this process, the route resolved once.
    Service(Resolved),
    /// A function of the template.
    Function {
        key: RouteKey,
        function: String,
        timeout: Duration,
        replies: bool,
    },
    /// A MOCK integration (the keep-alive route): answered without an invocation.
    Mock(Option<String>),
    /// No route and no `$default`: API Gateway answers `Forbidden`.
    Nowhere,
}

impl Selected {
    /// The event's route key (`None` for what invokes nothing).
    pub(super) fn key(&self) -> Option<&RouteKey> {
        match self {
            Selected::Service(resolved) => Some(&resolved.key),
            Selected::Function { key, .. } => Some(key),
            Selected::Mock(_) | Selected::Nowhere => None,
        }
    }

    /// Whether the answer goes back to the client (a two-way route).
    pub(super) fn replies(&self) -> bool {
        match self {
            Selected::Service(resolved) => resolved.replies(),
            Selected::Function { replies, .. } => *replies,
            Selected::Mock(_) | Selected::Nowhere => false,
        }
    }
}

/// What an event came to.
pub(super) enum Outcome {
    Answered(Box<ApiGatewayProxyResponse>),
    /// The function failed (a Lambda error): API Gateway answers `Internal server error`.
    Failed,
    /// No answer within the integration timeout.
    TimedOut,
}

pub(super) struct EmulatorState {
    pub(super) backend: Backend,
    pub(super) config: LocalSettings,
    pub(super) selection: Vec<String>,
    /// The keep-alive route, answered here as API Gateway's MOCK integration answers it.
    pub(super) keepalive: Option<String>,
    /// Whether `$connect` has a REQUEST authorizer, run before it.
    pub(super) authorizer: bool,
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

    /// The route API Gateway selects for a message's `selected` key (the string at the route
    /// selection expression's path), resolved once: the invocation and the reply use it.
    pub(super) fn select(&self, selected: Option<&str>) -> Selected {
        if selected.is_some() && selected == self.keepalive.as_deref() {
            return Selected::Mock(Some(crate::settings::KEEPALIVE_ANSWER.to_owned()));
        }
        match &self.backend {
            Backend::Service(service) => Selected::Service(service.router().select(selected)),
            Backend::Functions(functions) => match functions.route(selected) {
                Some((key, target, replies)) => Self::target(key, target, replies),
                None => Selected::Nowhere,
            },
        }
    }

    /// A `$connect` or `$disconnect` event's route (`Nowhere` when a template has none: the
    /// event invokes nothing).
    pub(super) fn resolve(&self, key: RouteKey) -> Selected {
        match &self.backend {
            Backend::Service(service) => Selected::Service(service.router().resolve(key)),
            Backend::Functions(functions) => match functions.api.routes.get_key_value(key.as_str())
            {
                Some((key, route)) => Self::target(key, &route.target, route.replies),
                None => Selected::Nowhere,
            },
        }
    }

    /// An event's JSON as API Gateway sends it: `queryStringParameters` holds each parameter's
    /// last value as a string (`aws_lambda_events` writes lists; a Lift function reads both,
    /// a function in another language expects strings).
    fn as_api_gateway_sends(mut event: serde_json::Value) -> serde_json::Value {
        if let Some(query) = event
            .get_mut("queryStringParameters")
            .and_then(serde_json::Value::as_object_mut)
        {
            for value in query.values_mut() {
                if let Some(last) = value.as_array().and_then(|values| values.last()).cloned() {
                    *value = last;
                }
            }
        }
        event
    }

    fn target(key: &str, target: &Target, replies: bool) -> Selected {
        match target {
            Target::Function { function, timeout } => Selected::Function {
                key: RouteKey::parse(key),
                function: function.clone(),
                timeout: *timeout,
                replies,
            },
            Target::Mock(answer) => Selected::Mock(answer.clone()),
        }
    }

    /// Hands `event`, whose route is `selected`, to the service or function as Lambda would,
    /// within the integration timeout, and notes it in the journal.
    pub(super) async fn invoke(
        &self,
        event: ApiGatewayWebsocketProxyRequest,
        selected: Selected,
    ) -> Outcome {
        let route = selected
            .key()
            .map_or(RouteKey::DEFAULT, RouteKey::as_str)
            .to_owned();
        let connection = event
            .request_context
            .connection_id
            .clone()
            .unwrap_or_default();
        let started = Instant::now();
        let outcome = match (selected, &self.backend) {
            (Selected::Service(resolved), Backend::Service(service)) => {
                let handled = tokio::time::timeout(
                    self.config.invocation_timeout,
                    service.handle_event(
                        crate::event::Event::whole(event),
                        Some(resolved),
                        self.invocation(),
                    ),
                )
                .await;
                handled.map_or(Outcome::TimedOut, |response| {
                    Outcome::Answered(Box::new(response))
                })
            }
            (
                Selected::Function {
                    function, timeout, ..
                },
                Backend::Functions(functions),
            ) => {
                let event =
                    Self::as_api_gateway_sends(serde_json::to_value(&event).unwrap_or_default());
                match functions.invoke(&function, &event, timeout).await {
                    Some(Invoked::Answered(answer)) => {
                        match serde_json::from_value::<ApiGatewayProxyResponse>(answer) {
                            Ok(response) => Outcome::Answered(Box::new(response)),
                            Err(err) => {
                                tracing::warn!(error = %err, "a function's answer is not an API Gateway proxy response");
                                Outcome::Failed
                            }
                        }
                    }
                    Some(Invoked::Failed(_)) => Outcome::Failed,
                    None => Outcome::TimedOut,
                }
            }
            // A route invoking nothing answers as an empty success.
            _ => {
                let mut response = ApiGatewayProxyResponse::default();
                response.status_code = 200;
                Outcome::Answered(Box::new(response))
            }
        };
        let took = started.elapsed();
        match &outcome {
            Outcome::Answered(response) => {
                let body = match &response.body {
                    Some(aws_lambda_events::encodings::Body::Text(text)) => Some(text.as_str()),
                    _ => None,
                };
                let status = u16::try_from(response.status_code).unwrap_or(500);
                self.journal.event(&route, &connection, status, body, took);
            }
            Outcome::Failed => {
                let body = r#"{"message":"Internal server error"}"#;
                self.journal
                    .event(&route, &connection, 502, Some(body), took);
            }
            Outcome::TimedOut => {
                let body = r#"{"type":"error","code":"timeout"}"#;
                self.journal
                    .event(&route, &connection, 504, Some(body), took);
            }
        }
        outcome
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
        let answered = match &self.backend {
            Backend::Service(service) => tokio::time::timeout(
                self.config.invocation_timeout,
                service.handle_lambda(request, self.invocation()),
            )
            .await
            .map_err(drop),
            Backend::Functions(functions) => {
                let function = functions.api.authorizer.as_deref().unwrap_or("Function");
                match functions
                    .invoke(function, &request, self.config.invocation_timeout)
                    .await
                {
                    Some(Invoked::Answered(answer)) => Ok(serde_json::from_value(answer)
                        .map_or(LambdaResponse::Task(serde_json::Value::Null), |answer| {
                            LambdaResponse::Authorizer(Box::new(answer))
                        })),
                    // A Lambda authorizer refuses with the error `Unauthorized` (401).
                    Some(Invoked::Failed(why)) if why.ends_with(": Unauthorized") => {
                        Ok(LambdaResponse::Unauthorized)
                    }
                    Some(Invoked::Failed(_)) => Ok(LambdaResponse::Task(serde_json::Value::Null)),
                    None => Err(()),
                }
            }
        };
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
