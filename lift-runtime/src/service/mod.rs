//! [`Service`]: the one code path every event takes, whether it came from Lambda or from the
//! local emulator. Only the transport differs.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use aws_lambda_events::apigw::{ApiGatewayCustomAuthorizerResponse, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use futures_util::FutureExt;
use serde::Serialize;
use tracing::Instrument;

mod authorizer;
mod connected;
mod sweep;
#[cfg(feature = "local")]
pub(crate) use sweep::PRESENCE_SWEEP;

use crate::context::{ContextParts, WsContext};
use crate::error::WsError;
use crate::event::{Event, Fields};
#[cfg(feature = "local")]
use crate::fanout::Deliver;
use crate::fanout::Fanout;
use crate::middleware::{ErasedMiddleware, Next};
use crate::outbound::{BroadcastSettings, Clients, Outbound, MAX_MESSAGE_SIZE};
use crate::route_key::RouteKey;
use crate::router::{HandlerResult, Resolved, RouteInfo, Router};

/// The handler an event's route resolved to (see [`Resolved::handler`]).
type Handler = Option<&'static RouteInfo>;
use crate::settings::Settings;
use crate::store::ConnectionStore;

/// Facts about the invocation that are not in the event.
#[derive(Clone, Debug)]
pub(crate) struct Invocation {
    /// The Lambda request id (the emulator makes one per event).
    pub(crate) request_id: String,
    /// When the invocation must have returned.
    pub(crate) deadline: Option<Instant>,
    /// Its X-Ray trace header, when Lambda gave one.
    pub(crate) trace_id: Option<String>,
}

impl Invocation {
    /// Its trace context: what the work it hands on (fan-out records) says it came from.
    fn origin(&self) -> crate::trace::Origin {
        crate::trace::Origin {
            request_id: self.request_id.clone(),
            trace_id: self.trace_id.clone(),
            traceparent: None,
        }
    }

    /// An invocation with a fresh random request id and no deadline.
    pub(crate) fn new() -> Self {
        Invocation {
            request_id: crate::ids::request_id(),
            deadline: None,
            trace_id: None,
        }
    }
}

/// What a service is made of ([`App`](crate::App) puts it together).
pub(crate) struct Parts {
    pub(crate) router: Router,
    pub(crate) middleware: Vec<Arc<dyn ErasedMiddleware>>,
    /// The middleware that also run as the `$connect` authorizer (see [`authorizer`]).
    ///
    /// [`authorizer`]: self::authorizer
    pub(crate) authorize: Vec<Arc<dyn ErasedMiddleware>>,
    pub(crate) store: Arc<dyn ConnectionStore>,
    pub(crate) settings: Settings,
    pub(crate) broadcast: Arc<BroadcastSettings>,
    pub(crate) clients: Clients,
    pub(crate) fanout: Option<Arc<Fanout>>,
    pub(crate) metrics: Option<crate::observe::Metrics>,
}

/// An app ready to serve events: the routing table run on API Gateway WebSocket events
/// (connection management, dispatch, replies and error frames) and on the fan-out queue's SQS
/// events. Cheap to clone.
///
/// Built by [`App::service`](crate::App::service). [`App::run`](crate::App::run) hands it to
/// `lambda_runtime` or to the local emulator; it is a `tower::Service` of Lambda events (feature
/// `lambda`), to wrap in `tower` layers and run yourself:
///
/// ```no_run
/// # use lift_runtime::prelude::*;
/// # #[ws_app] mod app { use lift_runtime::prelude::*; #[ws_default] async fn d() -> WsResult { Ok(()) } }
/// # async fn demo() -> Result<(), lift_runtime::Error> {
/// let service = lift_runtime::App::new(app::router()).service().await?;
/// let service = tower::ServiceBuilder::new()
///     .layer(tower::layer::util::Identity::new()) // your tower layers here
///     .service(service);
/// lambda_runtime::run(service).await
/// # }
/// ```
#[derive(Clone)]
pub struct Service {
    inner: Arc<Parts>,
}

impl Service {
    pub(crate) fn new(parts: Parts) -> Self {
        Service {
            inner: Arc::new(parts),
        }
    }

    /// Handles one event as Lambda delivers it (its JSON payload), with a fresh request id and
    /// no deadline (sends get [`BroadcastSettings::default_budget`]): what the tests of an app
    /// feed it (see `testing::Event`, feature `testing`).
    ///
    /// - An SQS event of fan-out records (see [`fanout`](crate::fanout)): each record's message
    ///   sent to its connections; the answer lists the records SQS should deliver again.
    /// - An API Gateway WebSocket event: `$connect` runs the connect handler and on success
    ///   saves the connection and answers 200 (on `Err`, the error's status: the handshake is
    ///   refused and nothing is stored); `$disconnect` runs its handler, then deletes the
    ///   connection; any other route runs its handler (or `$default`'s; or answers
    ///   `unknown_route`), and a returned value or an error frame is the response body on a
    ///   `reply` route, and is posted to the caller through the Management API otherwise.
    /// - A Lambda REQUEST authorizer's request (the function as API Gateway's authorizer on
    ///   `$connect`): the app's `JwtAuth` and `AllowedOrigins` decide, answered with an `Allow`
    ///   or `Deny` policy, or [`LambdaResponse::Unauthorized`] (see
    ///   [`Settings::authorizer`](crate::Settings::authorizer)).
    /// - The runtime's scheduled task, `{"liftTask":"presence-sweep","managementEndpoint":URL}`
    ///   (see [`Settings::presence`](crate::Settings::presence)): answered
    ///   [`LambdaResponse::Task`].
    /// - Anything else (a malformed event) is answered with status 400 and an `invalid_event`
    ///   error frame.
    ///
    /// [`BroadcastSettings::default_budget`]: crate::settings::BroadcastSettings::default_budget
    pub async fn handle(&self, event: serde_json::Value) -> LambdaResponse {
        self.handle_lambda(event, Invocation::new()).await
    }

    /// [`handle`](Self::handle) with the invocation's request id and deadline.
    pub(crate) fn handle_lambda(
        &self,
        event: serde_json::Value,
        invocation: Invocation,
    ) -> impl std::future::Future<Output = LambdaResponse> + Send + '_ {
        crate::trace::within(
            invocation.origin(),
            self.handle_invocation(event, invocation),
        )
    }

    /// [`handle_lambda`](Self::handle_lambda) of an API Gateway WebSocket event already read
    /// (see [`lambda::Payload`](crate::lambda::Payload)).
    #[cfg(feature = "lambda")]
    pub(crate) fn handle_read(
        &self,
        event: Event,
        invocation: Invocation,
    ) -> impl std::future::Future<Output = LambdaResponse> + Send + '_ {
        let origin = invocation.origin();
        let handled = self
            .handle_event(event, None, invocation)
            .map(|response| LambdaResponse::WebSocket(Box::new(response)));
        crate::trace::within(origin, handled)
    }

    /// [`handle_lambda`](Self::handle_lambda), within the invocation's trace context.
    ///
    /// Not an `async fn`, and the rarer events' futures are boxed: every event's future is
    /// as large as the largest it may hold, and is moved whole (into its box, for one), so a
    /// WebSocket event's future holds only what a WebSocket event needs.
    fn handle_invocation(
        &self,
        event: serde_json::Value,
        invocation: Invocation,
    ) -> impl std::future::Future<Output = LambdaResponse> + Send + '_ {
        let rare: futures_util::future::BoxFuture<'_, LambdaResponse> = if is_sqs_event(&event) {
            match serde_json::from_value::<SqsEvent>(event) {
                Ok(event) => Box::pin(self.handle_sqs(event, invocation).map(LambdaResponse::Sqs)),
                Err(err) => {
                    // Nothing can be reported per record: the whole batch is retried by SQS.
                    tracing::error!(error = %err, "an SQS event that could not be read");
                    let reason = format!("not an SQS event: {err}");
                    Box::pin(futures_util::future::ready(
                        self.invalid(&invocation, reason),
                    ))
                }
            }
        } else if Self::is_authorizer_request(&event) {
            Box::pin(self.authorize(event, invocation))
        } else if Self::is_task(&event) {
            Box::pin(self.run_task(event, invocation))
        } else {
            return self
                .handle_json(event, invocation)
                .map(|response| LambdaResponse::WebSocket(Box::new(response)))
                .right_future();
        };
        rare.left_future()
    }

    /// Handles an SQS event of fan-out records (see [`fanout`](crate::fanout)): each record's
    /// message sent to its connections, or a room's next members queued; answers the records
    /// SQS should deliver again (`ReportBatchItemFailures`). Without a fan-out queue every
    /// record is reported failed: nothing could queue what a record leaves undone.
    async fn handle_sqs(&self, event: SqsEvent, invocation: Invocation) -> SqsBatchResponse {
        let span = tracing::info_span!(
            "fanout_batch",
            request_id = %invocation.request_id,
            trace_id = tracing::field::Empty,
            records = event.records.len(),
        );
        if let Some(trace_id) = &invocation.trace_id {
            span.record("trace_id", trace_id.as_str());
            #[cfg(feature = "otlp")]
            crate::observe::otlp::continue_xray(&span, trace_id);
        }
        let Some(fanout) = &self.inner.fanout else {
            let _guard = span.enter();
            tracing::error!(
                "an SQS event, but this app has no fan-out queue (LIFT_FANOUT_QUEUE_URL)"
            );
            let mut response = SqsBatchResponse::default();
            for record in event.records {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = record.message_id.unwrap_or_default();
                response.batch_item_failures.push(failure);
            }
            return response;
        };
        let consumer = crate::fanout::Consumer {
            fanout,
            clients: &self.inner.clients,
            store: &self.inner.store,
            config: &self.inner.broadcast,
            metrics: self.inner.metrics.as_ref(),
        };
        let deadline = invocation
            .deadline
            .unwrap_or_else(|| Instant::now() + self.inner.broadcast.default_budget);
        crate::fanout::consume(consumer, event, deadline)
            .instrument(span)
            .await
    }

    /// Starts the delivery of the fan-out queue's records to this service, as Lambda's event
    /// source mapping would (the emulator calls it); `None` without a queue or when the queue
    /// is delivered by something else.
    #[cfg(feature = "local")]
    pub(crate) fn deliver_fanout(&self) -> Option<tokio::task::JoinHandle<()>> {
        let fanout = self.inner.fanout.as_ref()?;
        let service = self.clone();
        let deliver: Deliver = Arc::new(move |event, deadline| {
            let service = service.clone();
            Box::pin(async move {
                let invocation = Invocation {
                    request_id: crate::ids::request_id(),
                    deadline,
                    trace_id: None,
                };
                service.handle_sqs(event, invocation).await
            })
        });
        fanout.queue.deliver(deliver)
    }

    /// The middleware that run as the `$connect` authorizer.
    pub(crate) fn authorizers(&self) -> &[Arc<dyn ErasedMiddleware>] {
        &self.inner.authorize
    }

    /// `400 invalid_event`, as a Lambda answer.
    pub(crate) fn invalid(&self, invocation: &Invocation, reason: String) -> LambdaResponse {
        LambdaResponse::WebSocket(Box::new(invalid_event(invocation, reason)))
    }

    /// The context of a `$connect` event whose handler does not run (the authorizer's), and
    /// its span.
    pub(crate) fn connect_context(
        &self,
        event: Event,
        invocation: Invocation,
    ) -> Result<(WsContext, tracing::Span), Box<ApiGatewayProxyResponse>> {
        let resolved = Resolved {
            key: RouteKey::Connect,
            handler: None,
        };
        let (parts, _, span) = self.prepare(event.fields(), Some(resolved), invocation)?;
        Ok((WsContext::new(event, parts), span))
    }

    /// The routing table.
    #[cfg(feature = "local")]
    pub(crate) fn router(&self) -> &Router {
        &self.inner.router
    }

    /// The connection store.
    #[cfg(feature = "local")]
    pub(crate) fn store(&self) -> &Arc<dyn ConnectionStore> {
        &self.inner.store
    }

    /// The settings it runs with.
    #[cfg(feature = "local")]
    pub(crate) fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// An API Gateway WebSocket event given as JSON. An event that is not one is answered with
    /// status 400 and an `invalid_event` error body. Not an `async fn`: the event is read
    /// before the future is made, so the future does not keep it besides its context's.
    fn handle_json(
        &self,
        event: serde_json::Value,
        invocation: Invocation,
    ) -> impl std::future::Future<Output = ApiGatewayProxyResponse> + Send + '_ {
        let event = match crate::inbound::read_value(event) {
            Ok(event) => Ok(event),
            Err(event) => serde_json::from_value(event).map(Event::whole),
        };
        match event {
            Ok(event) => self.handle_event(event, None, invocation).left_future(),
            Err(err) => futures_util::future::ready(invalid_event(
                &invocation,
                format!("not an API Gateway WebSocket event: {err}"),
            ))
            .right_future(),
        }
    }

    /// Handles one API Gateway WebSocket event: the one path of every event, from Lambda
    /// (`resolved` is `None`: the route is looked up here) or from the emulator (which has
    /// resolved the route already, to select it, so it is not looked up again).
    ///
    /// Not an `async fn`: the event goes into the context before the future is made, so the
    /// future does not keep it twice.
    pub(crate) fn handle_event(
        &self,
        event: Event,
        resolved: Option<Resolved>,
        invocation: Invocation,
    ) -> impl std::future::Future<Output = ApiGatewayProxyResponse> + Send + '_ {
        let mut prepared = self
            .prepare(event.fields(), resolved, invocation)
            .map(|(parts, handler, span)| (WsContext::new(event, parts), handler, span));
        async move {
            match &mut prepared {
                Ok((ctx, handler, span)) => {
                    self.dispatch(ctx, *handler).instrument(span.clone()).await
                }
                Err(response) => std::mem::take(&mut **response),
            }
        }
    }

    /// All a context needs besides the event, the handler the event's route resolved to, and
    /// the span the event runs in; or the answer to an event that cannot run (`invalid_event`). The event itself goes into the context
    /// only where the context stays: it is large, and each move copies it.
    fn prepare(
        &self,
        event: &Fields,
        resolved: Option<Resolved>,
        invocation: Invocation,
    ) -> Result<(ContextParts, Handler, tracing::Span), Box<ApiGatewayProxyResponse>> {
        let (connection_id, resolved) = match crate::inbound::identity(event) {
            Ok((id, key)) => (
                id.to_owned(),
                // The event's route, looked up here once (unless the emulator did already).
                resolved.unwrap_or_else(|| self.inner.router.resolve(RouteKey::parse(key))),
            ),
            Err(reason) => return Err(Box::new(invalid_event(&invocation, reason))),
        };
        let route = &resolved.key;
        let api = self
            .inner
            .clients
            .for_event(event)
            .map_err(|reason| Box::new(invalid_event(&invocation, reason)))?;
        let span = tracing::info_span!(
            "ws_event",
            request_id = %invocation.request_id,
            trace_id = tracing::field::Empty,
            connection_id = %connection_id,
            route_key = route.as_str(),
            event_type = event.event_type.as_deref().unwrap_or(""),
        );
        if let Some(trace_id) = &invocation.trace_id {
            span.record("trace_id", trace_id.as_str());
            #[cfg(feature = "otlp")]
            crate::observe::otlp::continue_xray(&span, trace_id);
        }
        let out = Outbound::new(
            api,
            self.inner.store.clone(),
            self.inner.broadcast.clone(),
            invocation.deadline,
            connection_id,
            *route == RouteKey::Connect,
            self.inner.fanout.clone(),
        )
        .with_history(self.inner.settings.history)
        .with_presence(self.inner.settings.presence);
        let parts = ContextParts {
            route: resolved.key,
            request_id: invocation.request_id,
            store: self.inner.store.clone(),
            out,
        };
        Ok((parts, resolved.handler, span))
    }

    /// Runs the middleware and `handler` (the event's route, resolved by [`prepare`]), then
    /// what the route's kind asks: `$connect`'s save, `$disconnect`'s delete, a message's reply.
    ///
    /// [`prepare`]: Self::prepare
    async fn dispatch(&self, ctx: &mut WsContext, handler: Handler) -> ApiGatewayProxyResponse {
        let next = Next::new(&self.inner.middleware, handler);
        let result = guard(next.run(ctx)).await;
        match ctx.route() {
            // Boxed, as the post of a frame below: once per connection each, and large, they
            // would otherwise be part of every event's future.
            RouteKey::Connect => Box::pin(self.connected(ctx, result)).await,
            RouteKey::Disconnect => Box::pin(self.disconnected(ctx, result)).await,
            RouteKey::Default | RouteKey::Message(_) => {
                // What answers a message carries its `requestId`, when it had one.
                let request_id = crate::inbound::request_id(ctx.body());
                let tagged = |frame: String| match &request_id {
                    Some(id) => crate::inbound::with_request_id(frame, id),
                    None => frame,
                };
                let frame = match result {
                    Ok(None) => return response(200, None),
                    Ok(Some(reply)) => match tagged(reply.into_body()) {
                        body if body.len() > MAX_MESSAGE_SIZE => {
                            let err = WsError::too_large(body.len(), MAX_MESSAGE_SIZE);
                            log_error(&err);
                            tagged(err.to_frame())
                        }
                        body => body,
                    },
                    Err(err) => {
                        log_error(&err);
                        tagged(err.to_frame())
                    }
                };
                if handler.is_some_and(|route| route.reply) {
                    return response(200, Some(frame));
                }
                // The same path as `ctx.send`: retried within the deadline.
                let post = Box::pin(ctx.send_raw(ctx.connection_id(), frame.as_bytes()));
                if let Err(err) = post.await {
                    tracing::warn!(error = %err, "could not post the reply to the caller");
                }
                response(200, None)
            }
        }
    }

    /// `$disconnect`, once its handler has run: the record deleted, and with presence its
    /// rooms told when it was its user's last connection.
    async fn disconnected(
        &self,
        ctx: &WsContext,
        result: HandlerResult,
    ) -> ApiGatewayProxyResponse {
        if let Err(err) = result {
            log_error(&err);
        }
        let record = match ctx.keeps_presence() {
            true => ctx.connection().await.ok().flatten().cloned(),
            false => None,
        };
        if let Err(err) = self.inner.store.delete(ctx.connection_id()).await {
            tracing::error!(error = %err, "could not delete the connection from the store");
        }
        if let Some(record) = record {
            Box::pin(ctx.update_presence(&record, true)).await;
        }
        response(200, None)
    }
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("router", &self.inner.router)
            .field("endpoint", self.inner.clients.endpoint())
            .finish_non_exhaustive()
    }
}

/// What the function answers Lambda: an API Gateway response, the batch response of an SQS
/// event, or an authorizer's verdict.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum LambdaResponse {
    /// The answer to an API Gateway WebSocket event.
    WebSocket(Box<ApiGatewayProxyResponse>),
    /// The answer to an SQS event: the records to deliver again.
    Sqs(SqsBatchResponse),
    /// The answer to a Lambda authorizer's request: an `Allow` policy with the verified claims
    /// in its context, or a `Deny` policy (API Gateway refuses the handshake with 403).
    Authorizer(Box<ApiGatewayCustomAuthorizerResponse>),
    /// A Lambda authorizer's request without a valid token: the invocation fails with the
    /// error `Unauthorized`, which API Gateway answers with 401.
    Unauthorized,
    /// The answer to one of the runtime's scheduled tasks (the presence sweep the template
    /// schedules: `{"liftTask":"presence-sweep",...}`): what it did.
    Task(serde_json::Value),
}

/// Whether `event` is an SQS event: `Records` whose first has `eventSource` `aws:sqs`.
fn is_sqs_event(event: &serde_json::Value) -> bool {
    event
        .get("Records")
        .and_then(|records| records.get(0))
        .and_then(|record| record.get("eventSource"))
        .is_some_and(|source| source == "aws:sqs")
}

/// Runs the middleware chain and the handler with a panic guard: a panic becomes a 500
/// `internal` error.
pub(crate) async fn guard(
    future: impl std::future::Future<Output = HandlerResult>,
) -> HandlerResult {
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            tracing::error!(panic = %message, "the handler panicked");
            Err(WsError::internal("the handler failed"))
        }
    }
}

fn log_error(err: &WsError) {
    if err.status() >= 500 {
        tracing::error!(
            status = err.status(),
            code = err.code(),
            reason = err.message(),
            "handler error"
        );
    } else {
        tracing::warn!(
            status = err.status(),
            code = err.code(),
            reason = err.message(),
            "handler error"
        );
    }
}

fn invalid_event(invocation: &Invocation, message: String) -> ApiGatewayProxyResponse {
    tracing::error!(request_id = %invocation.request_id, reason = %message, "invalid event");
    let err = WsError::new(400, "invalid_event", message);
    response(400, Some(err.to_frame()))
}

pub(crate) fn response(status: u16, body: Option<String>) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = i64::from(status);
    response.body = body.map(Body::Text);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every event's future is moved whole (into its box, for one): a WebSocket event's holds
    /// neither the rarer events' (SQS batches, authorizer requests, tasks: boxed) nor the event
    /// (boxed, in the context). 9 KB before this was looked at, 672 bytes since; under a
    /// kilobyte, its box is not an allocation on glibc's slow path.
    #[tokio::test]
    async fn a_websocket_events_future_is_small() {
        let service = crate::App::new(Router::new(&[]))
            .store(crate::store::MemoryStore::new())
            .service()
            .await
            .unwrap();
        let event = serde_json::Value::Null;
        let future = service.handle_lambda(event, Invocation::new());
        let size = std::mem::size_of_val(&future);
        assert!(size < 1000, "an event's future is {size} bytes");
        let context = std::mem::size_of::<WsContext>();
        assert!(context < 512, "a context is {context} bytes");
    }
}
