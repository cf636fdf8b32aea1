//! An API Gateway WebSocket event as the runtime holds it ([`Event`]): the [`Fields`] every
//! event reads, and the whole event, given or read when a handler asks for it.

use std::sync::OnceLock;

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use serde::Deserialize;

/// The authorizer context's key holding the verified claims (a JSON string).
pub(crate) const CLAIMS: &str = "liftClaims";

thread_local! {
    /// The box of the last event, for the next: an event is 1.5 KB, and an allocation of a
    /// kilobyte or more takes the allocator's slow path (glibc's consolidates its free lists
    /// on it), on every event. What it held is dropped when the next event is put in it.
    static SPARE_EVENT: std::cell::Cell<Option<Box<ApiGatewayWebsocketProxyRequest>>> =
        const { std::cell::Cell::new(None) };
    /// The buffer of the last event's JSON, for the next (as [`SPARE_EVENT`]).
    static SPARE_JSON: std::cell::Cell<String> = const { std::cell::Cell::new(String::new()) };
}

/// An event in a box that goes back to [`SPARE_EVENT`] when dropped.
pub(crate) struct EventBox(Option<Box<ApiGatewayWebsocketProxyRequest>>);

impl EventBox {
    /// `event`, in the spare box when this thread has one.
    pub(crate) fn new(event: ApiGatewayWebsocketProxyRequest) -> Self {
        let boxed = match SPARE_EVENT.try_with(std::cell::Cell::take).ok().flatten() {
            Some(mut spare) => {
                *spare = event;
                spare
            }
            None => Box::new(event),
        };
        EventBox(Some(boxed))
    }
}

impl std::ops::Deref for EventBox {
    type Target = ApiGatewayWebsocketProxyRequest;

    fn deref(&self) -> &ApiGatewayWebsocketProxyRequest {
        self.0.as_deref().expect("an event until dropped")
    }
}

impl Drop for EventBox {
    fn drop(&mut self) {
        if let Some(boxed) = self.0.take() {
            // Past the thread's end (no thread-local any more) the box is simply freed.
            let _ = SPARE_EVENT.try_with(|spare| spare.set(Some(boxed)));
        }
    }
}

/// What the runtime itself reads of an API Gateway WebSocket event, read once: who, which
/// route, where answers go, the message. The rest of the event
/// ([`WsContext::event`](crate::WsContext::event)) is read when asked for.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    pub(crate) connection_id: Option<String>,
    pub(crate) route_key: Option<String>,
    pub(crate) domain_name: Option<String>,
    pub(crate) stage: Option<String>,
    pub(crate) event_type: Option<String>,
    /// Unix milliseconds (0: the event does not say).
    pub(crate) connected_at: i64,
    pub(crate) body: Option<String>,
    pub(crate) is_base64_encoded: bool,
    /// `requestContext.authorizer.liftClaims`, when a string: the claims an authorizer of this
    /// runtime verified, as JSON (see `inbound::claims_of`).
    pub(crate) claims: Option<String>,
}

impl Fields {
    /// The fields of a whole event.
    pub(crate) fn of(event: &ApiGatewayWebsocketProxyRequest) -> Self {
        let rc = &event.request_context;
        Fields {
            connection_id: rc.connection_id.clone(),
            route_key: rc.route_key.clone(),
            domain_name: rc.domain_name.clone(),
            stage: rc.stage.clone(),
            event_type: rc.event_type.clone(),
            connected_at: rc.connected_at,
            body: event.body.clone(),
            is_base64_encoded: event.is_base64_encoded,
            claims: rc
                .authorizer
                .fields
                .get(CLAIMS)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
        }
    }

    /// A whole event made of these fields alone.
    fn to_event(&self) -> ApiGatewayWebsocketProxyRequest {
        let mut event = ApiGatewayWebsocketProxyRequest::default();
        let rc = &mut event.request_context;
        rc.connection_id.clone_from(&self.connection_id);
        rc.route_key.clone_from(&self.route_key);
        rc.domain_name.clone_from(&self.domain_name);
        rc.stage.clone_from(&self.stage);
        rc.event_type.clone_from(&self.event_type);
        rc.connected_at = self.connected_at;
        if let Some(claims) = &self.claims {
            rc.authorizer
                .fields
                .insert(CLAIMS.to_owned(), claims.clone().into());
        }
        event.body.clone_from(&self.body);
        event.is_base64_encoded = self.is_base64_encoded;
        event
    }
}

/// An API Gateway WebSocket event: the [`Fields`] every event reads, and the whole event,
/// either given (by the emulator, a test, an authorizer's request, or read whole because it is
/// a `$connect` or `$disconnect`) or read from the [`Rest`] when first asked for (see
/// `inbound::read_value`).
pub(crate) struct Event(Box<EventParts>);

struct EventParts {
    fields: Fields,
    whole: OnceLock<EventBox>,
    rest: Rest,
}

/// What an event read as far as its [`Fields`] is read whole from, if asked.
pub(crate) enum Rest {
    /// Its JSON (in a buffer kept for the thread's next event, as [`SPARE_EVENT`]).
    #[cfg_attr(not(feature = "lambda"), allow(dead_code))]
    Text(String),
    /// Its JSON value.
    Value(serde_json::Value),
    /// Nothing: the event was given whole.
    None,
}

impl Rest {
    /// `json`, in this thread's spare buffer.
    #[cfg(feature = "lambda")]
    pub(crate) fn text(json: &str) -> Rest {
        let mut buffer = SPARE_JSON
            .try_with(std::cell::Cell::take)
            .unwrap_or_default();
        buffer.clear();
        buffer.push_str(json);
        Rest::Text(buffer)
    }
}

impl Event {
    /// An event given whole.
    pub(crate) fn whole(event: ApiGatewayWebsocketProxyRequest) -> Self {
        Event(Box::new(EventParts {
            fields: Fields::of(&event),
            whole: OnceLock::from(EventBox::new(event)),
            rest: Rest::None,
        }))
    }

    /// An event read as far as `fields`; the rest is read from `rest` if asked for.
    pub(crate) fn read(fields: Fields, rest: Rest) -> Self {
        Event(Box::new(EventParts {
            fields,
            whole: OnceLock::new(),
            rest,
        }))
    }

    /// What the runtime reads of the event.
    pub(crate) fn fields(&self) -> &Fields {
        &self.0.fields
    }

    /// The whole event, read on the first call. Only fields the runtime does not read are left
    /// to this, and API Gateway sends them well-formed; an event built by hand with one
    /// malformed is logged, and is its [`Fields`] alone.
    pub(crate) fn event(&self) -> &ApiGatewayWebsocketProxyRequest {
        let parts = &self.0;
        parts.whole.get_or_init(|| {
            let event = whole(&parts.rest).unwrap_or_else(|| {
                tracing::warn!(
                    "a field of the event the runtime does not read is malformed: the event \
                     is handed to the handler without it"
                );
                parts.fields.to_event()
            });
            EventBox::new(event)
        })
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        if let Rest::Text(json) = std::mem::replace(&mut self.0.rest, Rest::None) {
            let _ = SPARE_JSON.try_with(|spare| spare.set(json));
        }
    }
}

/// The event a handler asks for, read from the rest of an event read as far as its fields:
/// `None` when a field the runtime did not read is malformed.
fn whole(rest: &Rest) -> Option<ApiGatewayWebsocketProxyRequest> {
    match rest {
        Rest::Text(json) => serde_json::from_str(json).ok(),
        Rest::Value(value) => ApiGatewayWebsocketProxyRequest::deserialize(value).ok(),
        Rest::None => None,
    }
}
