//! What handlers take ([`FromMessage`] extractors: [`Json<T>`], `String`, `Vec<u8>`) and what they return
//! ([`IntoReply`]: `()`, [`Reply`], [`Json<U>`]).

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::context::WsContext;
use crate::error::WsError;

/// Deserialises the message body as JSON into `T`, or serialises a reply from `T`.
///
/// As a parameter, a body that does not deserialise is answered with an `invalid_body` error
/// frame (the handler is not called). As a return value, `T` is serialised and sent back.
///
/// ```
/// use lift_runtime::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Deserialize)]
/// struct Ping { seq: u32 }
///
/// #[derive(Serialize)]
/// struct Pong { seq: u32 }
///
/// async fn ping(Json(ping): Json<Ping>) -> WsResult<Json<Pong>> {
///     Ok(Json(Pong { seq: ping.seq }))
/// }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

/// Something a handler can take as a parameter after the context: built from the event
/// before the handler runs; an `Err` is sent to the client instead of calling the handler.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be taken by a handler",
    label = "not an extractor",
    note = "after `&WsContext` / `&mut WsContext`, a handler takes `Json<T>` (T: Deserialize), `String` (the raw body) or `Vec<u8>` (its bytes)"
)]
pub trait FromMessage: Sized {
    /// Builds the value from the event in `ctx`.
    fn from_message(ctx: &WsContext) -> Result<Self, WsError>;
}

impl<T: DeserializeOwned> FromMessage for Json<T> {
    fn from_message(ctx: &WsContext) -> Result<Self, WsError> {
        if ctx.body().is_none() {
            return Err(WsError::invalid_body(
                "expected a JSON body, the message is empty",
            ));
        }
        // The common case without the cost of tracking where in the body a failure is (nor of
        // checking again that text is UTF-8); a body that fails is read again with tracking,
        // for the message to name the field. A base64 body (`isBase64Encoded`) is JSON once
        // decoded.
        let decoded;
        let body = if ctx.is_base64_encoded() {
            decoded = ctx.body_bytes()?;
            if let Ok(value) = serde_json::from_slice(&decoded) {
                return Ok(Json(value));
            }
            decoded.as_slice()
        } else {
            let text = ctx.body().unwrap_or_default();
            if let Ok(value) = serde_json::from_str(text) {
                return Ok(Json(value));
            }
            text.as_bytes()
        };
        let mut de = serde_json::Deserializer::from_slice(body);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
            let path = err.path().to_string();
            let inner = err.into_inner();
            if path == "." {
                WsError::invalid_body(format!("invalid message body: {inner}"))
            } else {
                WsError::invalid_body(format!("invalid message body at `{path}`: {inner}"))
            }
        })?;
        de.end()
            .map_err(|err| WsError::invalid_body(format!("invalid message body: {err}")))?;
        Ok(Json(value))
    }
}

/// The message body as text (empty when the event has none); a base64 body
/// (`isBase64Encoded`) decoded, and an `invalid_body` error if that is not UTF-8.
impl FromMessage for String {
    fn from_message(ctx: &WsContext) -> Result<Self, WsError> {
        if !ctx.is_base64_encoded() {
            return Ok(ctx.body().unwrap_or_default().to_owned());
        }
        String::from_utf8(ctx.body_bytes()?).map_err(|_| {
            WsError::invalid_body("the message is base64 of bytes that are not UTF-8 text")
        })
    }
}

/// The message's bytes: a base64 body decoded (when the event says `isBase64Encoded`, as when
/// the integration converts a payload to binary), or the text's UTF-8. A body that says base64
/// and is not is an `invalid_body` error.
impl FromMessage for Vec<u8> {
    fn from_message(ctx: &WsContext) -> Result<Self, WsError> {
        ctx.body_bytes()
    }
}

/// A message sent back to the caller, as a text frame with exactly this text (a handler that
/// answers JSON returns `Json<T>` instead).
///
/// On a `reply` route it is the route's response; on a one-way route it is posted to the caller
/// through the Management API.
///
/// ```
/// use lift_runtime::Reply;
///
/// assert_eq!(Reply::text("pong").body(), "pong");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    body: String,
}

impl Reply {
    /// A text frame with exactly this content.
    pub fn text(body: impl Into<String>) -> Self {
        Reply { body: body.into() }
    }

    /// A text frame with `value` serialised as JSON.
    pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> Result<Self, WsError> {
        serde_json::to_string(value)
            .map(Reply::text)
            .map_err(|err| WsError::internal(format!("the reply could not be serialised: {err}")))
    }

    /// The frame's content.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The frame's content, owned.
    pub(crate) fn into_body(self) -> String {
        self.body
    }
}

/// What a handler can return inside `WsResult<T>`: nothing, a [`Reply`] or a [`Json<U>`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned by a handler",
    label = "not a reply",
    note = "a handler returns `WsResult<()>`, `WsResult<Reply>` or `WsResult<Json<U>>` where U: Serialize"
)]
pub trait IntoReply {
    /// The reply to send back, if any.
    fn into_reply(self) -> Result<Option<Reply>, WsError>;
}

impl IntoReply for () {
    fn into_reply(self) -> Result<Option<Reply>, WsError> {
        Ok(None)
    }
}

impl IntoReply for Reply {
    fn into_reply(self) -> Result<Option<Reply>, WsError> {
        Ok(Some(self))
    }
}

impl<T: Serialize> IntoReply for Json<T> {
    fn into_reply(self) -> Result<Option<Reply>, WsError> {
        Reply::json(&self.0).map(Some)
    }
}

impl<T: IntoReply> IntoReply for Option<T> {
    fn into_reply(self) -> Result<Option<Reply>, WsError> {
        self.map_or(Ok(None), IntoReply::into_reply)
    }
}
