//! What the runtime requires of an event before anything runs, and reads from it: the claims a
//! `$connect` authorizer of this runtime passed on; the fields that name the connection and where answers go
//! checked, so a malformed event is answered `400 invalid_event` instead of being stored or
//! used to build a URL. (API Gateway always sends these well-formed; hand-built and replayed
//! events are what this catches.)

use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::event::{Event, Fields, Rest};

pub(crate) use crate::event::CLAIMS;

/// The claims an authorizer of this runtime verified for the connection, from an event's
/// `requestContext.authorizer` (set by API Gateway, or by the emulator, never by a client).
pub(crate) fn claims_of(event: &Fields) -> Option<serde_json::Value> {
    serde_json::from_str(event.claims.as_deref()?).ok()
}

/// An API Gateway WebSocket event read from its JSON text as far as the runtime needs (see
/// [`read_value`]); `None` when it is not one, or not a well-formed one (then it is read as a
/// `serde_json::Value`, as [`Service::handle`](crate::Service::handle) gets it).
#[cfg(feature = "lambda")]
pub(crate) fn read_text(json: &str) -> Option<Event> {
    let slim = serde_json::from_str::<Slim>(json).ok()?;
    match slim.fields()? {
        Read::Message(fields) => Some(Event::read(fields, Rest::text(json))),
        Read::Whole => serde_json::from_str(json).ok().map(Event::whole),
    }
}

/// An API Gateway WebSocket event read as far as the runtime needs: a message's [`Fields`]
/// alone (the rest is read if a handler asks for the whole event; API Gateway sends it
/// well-formed, and the fields are checked here as the whole event's reading checks them); a
/// `$connect` or `$disconnect` whole, checked whole (its headers and query are read). The event
/// back when it is not one, or not a well-formed one: [`Service`](crate::Service) reads it whole
/// then, for the error to answer.
pub(crate) fn read_value(event: serde_json::Value) -> Result<Event, serde_json::Value> {
    let Some(read) = Slim::deserialize(&event).ok().and_then(Slim::fields) else {
        return Err(event);
    };
    match read {
        Read::Message(fields) => Ok(Event::read(fields, Rest::Value(event))),
        Read::Whole => Err(event),
    }
}

/// What [`Slim::fields`] found.
enum Read {
    Message(Fields),
    /// A `$connect` or `$disconnect`: to be read whole.
    Whole,
}

/// The fields of an API Gateway WebSocket event the runtime reads, typed as
/// `aws_lambda_events` types them, and the marks of the other events a function gets.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Slim {
    request_context: Option<SlimContext>,
    #[serde(default)]
    body: Option<String>,
    /// `null` is `false`.
    #[serde(default)]
    is_base64_encoded: Option<bool>,
    /// An SQS event's.
    #[serde(rename = "Records", default)]
    records: Option<IgnoredAny>,
    /// A Lambda authorizer's request's.
    #[serde(rename = "methodArn", default)]
    method_arn: Option<IgnoredAny>,
    /// A scheduled task's.
    #[serde(rename = "liftTask", default)]
    lift_task: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SlimContext {
    #[serde(default)]
    connection_id: Option<String>,
    #[serde(default)]
    route_key: Option<String>,
    #[serde(default)]
    domain_name: Option<String>,
    #[serde(default)]
    stage: Option<String>,
    #[serde(default)]
    event_type: Option<String>,
    /// Required, as `aws_lambda_events` requires it.
    connected_at: i64,
    #[serde(default)]
    authorizer: Option<SlimAuthorizer>,
}

#[derive(Deserialize)]
struct SlimAuthorizer {
    #[serde(rename = "liftClaims", default)]
    claims: Option<serde_json::Value>,
}

impl Slim {
    /// A message's fields; `Whole` for a `$connect` or `$disconnect`; `None` for another kind
    /// of event.
    fn fields(self) -> Option<Read> {
        if self.records.is_some() || self.method_arn.is_some() || self.lift_task.is_some() {
            return None;
        }
        let rc = self.request_context?;
        let message = rc.event_type.as_deref() == Some("MESSAGE")
            && !matches!(
                rc.route_key.as_deref(),
                Some(crate::RouteKey::CONNECT | crate::RouteKey::DISCONNECT)
            );
        if !message {
            return Some(Read::Whole);
        }
        Some(Read::Message(Fields {
            connection_id: rc.connection_id,
            route_key: rc.route_key,
            domain_name: rc.domain_name,
            stage: rc.stage,
            event_type: rc.event_type,
            connected_at: rc.connected_at,
            body: self.body,
            is_base64_encoded: self.is_base64_encoded.unwrap_or(false),
            claims: rc
                .authorizer
                .and_then(|authorizer| match authorizer.claims {
                    Some(serde_json::Value::String(claims)) => Some(claims),
                    _ => None,
                }),
        }))
    }
}

/// The longest connection id accepted (API Gateway's are 16 characters).
pub(crate) const MAX_CONNECTION_ID: usize = 128;

/// The event's connection id and route key, or why they are not usable.
pub(crate) fn identity(event: &Fields) -> Result<(&str, &str), String> {
    let (Some(connection_id), Some(route_key)) = (&event.connection_id, &event.route_key) else {
        return Err("the event has no connectionId or routeKey".into());
    };
    if connection_id.is_empty()
        || connection_id.len() > MAX_CONNECTION_ID
        || !connection_id.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(format!(
            "connectionId {:?} is not a connection id: 1 to {MAX_CONNECTION_ID} visible ASCII \
             characters",
            shorten(connection_id)
        ));
    }
    if route_key.is_empty() {
        return Err("the event's routeKey is empty".into());
    }
    Ok((connection_id, route_key))
}

/// The event's domain name and stage, checked to make a URL of: `host[:port]` and an API
/// Gateway stage name (letters, digits, `-`, `_`).
pub(crate) fn endpoint_parts(event: &Fields) -> Result<(&str, Option<&str>), String> {
    let Some(domain) = event.domain_name.as_deref() else {
        return Err("the event has no domainName".into());
    };
    let host_byte = |b: u8| matches!(b, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b':' | b'[' | b']' | b'*' | b'_');
    if domain.is_empty() || domain.len() > 253 || !domain.bytes().all(host_byte) {
        return Err(format!(
            "domainName {:?} is not a host name",
            shorten(domain)
        ));
    }
    let stage = event.stage.as_deref().filter(|stage| !stage.is_empty());
    let stage_byte =
        |b: u8| matches!(b, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'$');
    if let Some(stage) = stage {
        if stage.len() > 128 || !stage.bytes().all(stage_byte) {
            return Err(format!("stage {:?} is not a stage name", shorten(stage)));
        }
    }
    Ok((domain, stage))
}

/// The `"requestId"` a client put in its message (a string or a number), to be echoed in what
/// answers that message: a two-way route's reply, a one-way route's returned value, an error
/// frame. Only a body that mentions it is parsed again.
pub(crate) fn request_id(body: Option<&str>) -> Option<serde_json::Value> {
    let body = body.filter(|body| body.contains(r#""requestId""#))?;
    #[derive(serde::Deserialize)]
    struct Tagged {
        #[serde(rename = "requestId")]
        request_id: Option<serde_json::Value>,
    }
    let tagged: Tagged = serde_json::from_str(body).ok()?;
    tagged
        .request_id
        .filter(|id| id.is_string() || id.is_number())
}

/// `frame` with `"requestId": id` first in it, when it is a JSON object; any other frame (a
/// text reply, an array) as it is. The other fields keep their order.
pub(crate) fn with_request_id(frame: String, id: &serde_json::Value) -> String {
    let is_object =
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&frame).is_ok();
    if !is_object {
        return frame;
    }
    let rest = frame.trim_start()[1..].trim_start();
    let id = id.to_string();
    if rest.starts_with('}') {
        format!(r#"{{"requestId":{id}}}"#)
    } else {
        format!(r#"{{"requestId":{id},{rest}"#)
    }
}

/// At most 64 characters of `text`, for error messages.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(64) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(connection_id: &str, domain: &str, stage: &str) -> Fields {
        Fields {
            connection_id: Some(connection_id.into()),
            route_key: Some("$connect".into()),
            domain_name: Some(domain.into()),
            stage: Some(stage.into()),
            ..Fields::default()
        }
    }

    /// A MESSAGE as API Gateway sends one, with `more` fields at the top.
    fn message(more: &str) -> String {
        format!(
            r#"{{{more}"requestContext":{{"routeKey":"send","eventType":"MESSAGE","stage":"prod",
            "connectedAt":1700000000000,"requestTimeEpoch":1700000000001,"domainName":"abc.execute-api.eu-west-1.amazonaws.com",
            "connectionId":"L0SM9cOFvHcCIhw=","identity":{{"sourceIp":"192.0.2.7"}},
            "authorizer":{{"principalId":"ana","liftClaims":"{{\"sub\":\"ana\"}}"}}}},
            "body":"{{\"action\":\"send\"}}","isBase64Encoded":false}}"#
        )
    }

    #[test]
    fn a_message_is_read_as_far_as_its_fields_and_whole_when_asked() {
        let json = message("");
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        #[cfg(feature = "lambda")]
        let from_text = read_text(&json).expect("a message");
        let Ok(from_value) = read_value(value) else {
            panic!("a message")
        };
        #[cfg(feature = "lambda")]
        let events = [from_text, from_value];
        #[cfg(not(feature = "lambda"))]
        let events = [from_value];
        for event in events {
            let fields = event.fields();
            assert_eq!(identity(fields).unwrap(), ("L0SM9cOFvHcCIhw=", "send"));
            assert_eq!(
                endpoint_parts(fields).unwrap(),
                ("abc.execute-api.eu-west-1.amazonaws.com", Some("prod"))
            );
            assert_eq!(fields.body.as_deref(), Some(r#"{"action":"send"}"#));
            assert_eq!(fields.connected_at, 1_700_000_000_000);
            assert_eq!(claims_of(fields), Some(serde_json::json!({"sub": "ana"})));
            // Read whole when asked: what the runtime does not read is there too.
            let whole = event.event();
            assert_eq!(
                whole.request_context.identity.source_ip.as_deref(),
                Some("192.0.2.7")
            );
            assert_eq!(whole.body, fields.body);
        }
    }

    #[test]
    fn connect_is_read_whole_and_other_events_not_as_websocket_events() {
        let connect = message(r#""headers":{"Host":"h"},"#)
            .replace(r#""eventType":"MESSAGE""#, r#""eventType":"CONNECT""#)
            .replace(r#""routeKey":"send""#, r#""routeKey":"$connect""#);
        let value: serde_json::Value = serde_json::from_str(&connect).unwrap();
        // The service reads it whole itself (and answers the error when it is not well-formed).
        assert!(read_value(value).is_err());
        #[cfg(feature = "lambda")]
        {
            let event = read_text(&connect).expect("a $connect");
            assert_eq!(event.event().headers["host"], "h");
        }
        for other in [
            message(r#""methodArn":"arn:x","type":"REQUEST","#),
            message(r#""Records":[],"#),
            message(r#""liftTask":"presence-sweep","#),
            // An escaped key is the key it spells.
            message(r#""method\u0041rn":"arn:x","#),
            // Malformed where the runtime reads: read whole by the service, for its error.
            message("").replace(r#""isBase64Encoded":false"#, r#""isBase64Encoded":"no""#),
            message("").replace(r#""connectedAt":1700000000000,"#, ""),
            r#"{"requestContext":null}"#.to_owned(),
            "[]".to_owned(),
        ] {
            let value: serde_json::Value = serde_json::from_str(&other).unwrap();
            assert!(read_value(value).is_err(), "{other}");
            #[cfg(feature = "lambda")]
            assert!(read_text(&other).is_none(), "{other}");
        }
    }

    #[test]
    fn a_malformed_field_the_runtime_does_not_read_is_left_out_of_the_whole_event() {
        let json = message(r#""headers":["Host"],"#);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let Ok(event) = read_value(value) else {
            panic!("served")
        };
        let whole = event.event();
        assert!(whole.headers.is_empty());
        assert_eq!(
            whole.request_context.connection_id.as_deref(),
            Some("L0SM9cOFvHcCIhw=")
        );
        assert_eq!(whole.body.as_deref(), Some(r#"{"action":"send"}"#));
        assert_eq!(
            claims_of(&crate::event::Fields::of(whole)),
            Some(serde_json::json!({"sub": "ana"}))
        );
    }

    #[test]
    fn a_request_id_is_echoed_in_objects_only() {
        use serde_json::json;
        let id = request_id(Some(r#"{"action":"x","requestId":7}"#)).unwrap();
        assert_eq!(id, json!(7));
        let id = request_id(Some(r#"{"requestId":"a\"b"}"#)).unwrap();
        assert_eq!(id, json!("a\"b"));
        for body in [
            r#"{"action":"x"}"#,
            r#"{"requestId":{"no":1}}"#,
            r#"{"requestId":null}"#,
            r#"not json "requestId""#,
        ] {
            assert_eq!(request_id(Some(body)), None, "{body}");
        }
        assert_eq!(
            with_request_id(r#"{"type":"pong","n":1}"#.into(), &json!("r1")),
            r#"{"requestId":"r1","type":"pong","n":1}"#
        );
        assert_eq!(
            with_request_id(" {} ".into(), &json!(2)),
            r#"{"requestId":2}"#
        );
        assert_eq!(with_request_id("pong".into(), &json!(2)), "pong");
        assert_eq!(with_request_id("[1]".into(), &json!(2)), "[1]");
    }

    #[test]
    fn api_gateway_shapes_pass() {
        let ok = event(
            "L0SM9cOFvHcCIhw=",
            "abc.execute-api.us-east-1.amazonaws.com",
            "prod",
        );
        assert!(identity(&ok).is_ok());
        assert_eq!(
            endpoint_parts(&ok).unwrap(),
            ("abc.execute-api.us-east-1.amazonaws.com", Some("prod"))
        );
        assert!(endpoint_parts(&event("a=", "127.0.0.1:3001", "")).is_ok());
        assert!(endpoint_parts(&event("a=", "[::1]:3001", "dev_2")).is_ok());
    }

    #[test]
    fn what_cannot_name_a_connection_or_a_url_is_refused() {
        for id in ["", "a b", "ü", "a\u{0}", &"x".repeat(129)] {
            assert!(identity(&event(id, "h", "p")).is_err(), "{id:?}");
        }
        for (domain, stage) in [
            ("", "p"),
            ("a b", "p"),
            ("h/x", "p"),
            ("ü.de", "p"),
            ("h", "a/b"),
        ] {
            assert!(
                endpoint_parts(&event("a=", domain, stage)).is_err(),
                "{domain} {stage}"
            );
        }
        let long = "é".repeat(100);
        let err = identity(&event(&long, "h", "p")).unwrap_err();
        assert!(err.contains('…') && err.len() < 250, "{err}");
    }
}
