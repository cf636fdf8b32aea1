//! What the runtime requires of an event before anything runs, and reads from it: the claims a
//! `$connect` authorizer of this runtime passed on; the fields that name the connection and where answers go
//! checked, so a malformed event is answered `400 invalid_event` instead of being stored or
//! used to build a URL. (API Gateway always sends these well-formed; hand-built and replayed
//! events are what this catches.)

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;

/// The authorizer context's key holding the verified claims (a JSON string).
pub(crate) const CLAIMS: &str = "liftClaims";

/// The claims an authorizer of this runtime verified for the connection, from an event's
/// `requestContext.authorizer` (set by API Gateway, or by the emulator, never by a client).
pub(crate) fn claims_of(event: &ApiGatewayWebsocketProxyRequest) -> Option<serde_json::Value> {
    let claims = event.request_context.authorizer.fields.get(CLAIMS)?;
    serde_json::from_str(claims.as_str()?).ok()
}

/// The longest connection id accepted (API Gateway's are 16 characters).
pub(crate) const MAX_CONNECTION_ID: usize = 128;

/// The event's connection id and route key, or why they are not usable.
pub(crate) fn identity(event: &ApiGatewayWebsocketProxyRequest) -> Result<(&str, &str), String> {
    let rc = &event.request_context;
    let (Some(connection_id), Some(route_key)) = (&rc.connection_id, &rc.route_key) else {
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
pub(crate) fn endpoint_parts(
    event: &ApiGatewayWebsocketProxyRequest,
) -> Result<(&str, Option<&str>), String> {
    let rc = &event.request_context;
    let Some(domain) = rc.domain_name.as_deref() else {
        return Err("the event has no domainName".into());
    };
    let host_byte = |b: u8| matches!(b, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b':' | b'[' | b']' | b'*' | b'_');
    if domain.is_empty() || domain.len() > 253 || !domain.bytes().all(host_byte) {
        return Err(format!(
            "domainName {:?} is not a host name",
            shorten(domain)
        ));
    }
    let stage = rc.stage.as_deref().filter(|stage| !stage.is_empty());
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

    fn event(connection_id: &str, domain: &str, stage: &str) -> ApiGatewayWebsocketProxyRequest {
        let mut event = ApiGatewayWebsocketProxyRequest::default();
        event.request_context.connection_id = Some(connection_id.into());
        event.request_context.route_key = Some("$connect".into());
        event.request_context.domain_name = Some(domain.into());
        event.request_context.stage = Some(stage.into());
        event
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
