//! The events API Gateway sends for a WebSocket connection, built once, typed with
//! `aws_lambda_events`: the emulator feeds them to the [`Service`](crate::Service), and
//! [`testing::Event`](crate::testing) hands them to tests.

use std::collections::HashMap;
use std::time::SystemTime;

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use aws_lambda_events::http::{HeaderMap, HeaderName, HeaderValue};
use aws_lambda_events::query_map::QueryMap;

use crate::ids;
use crate::route_key::RouteKey;

/// What every event of one connection says about it.
#[derive(Clone, Debug)]
pub(crate) struct Origin<'a> {
    /// The API's host (`abc123.execute-api.eu-west-1.amazonaws.com`, or the emulator's address).
    pub domain: &'a str,
    pub api_id: &'a str,
    pub stage: &'a str,
    pub connection_id: &'a str,
    pub connected_at: SystemTime,
    pub source_ip: &'a str,
    pub user_agent: Option<&'a str>,
    /// What the `$connect` authorizer said of the connection (its context and principal),
    /// which API Gateway puts in every event's `requestContext.authorizer`.
    pub authorizer: Option<&'a serde_json::Map<String, serde_json::Value>>,
}

/// The `$connect` event of a handshake with these headers and query parameters.
pub(crate) fn connect(
    origin: &Origin<'_>,
    headers: &[(String, String)],
    query: &[(String, String)],
) -> ApiGatewayWebsocketProxyRequest {
    let mut event = base(origin, &RouteKey::Connect, "CONNECT");
    set_headers(&mut event, headers);
    let mut multi: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in query {
        multi.entry(name.clone()).or_default().push(value.clone());
    }
    let single: HashMap<String, String> = query.iter().cloned().collect();
    event.query_string_parameters = QueryMap::from(single);
    event.multi_value_query_string_parameters = QueryMap::from(multi);
    event
}

/// The Lambda REQUEST authorizer's request API Gateway sends before `$connect`: the
/// `$connect` event's headers, query and request context, with `type` and `methodArn`.
pub(crate) fn authorizer_request(
    origin: &Origin<'_>,
    headers: &[(String, String)],
    query: &[(String, String)],
) -> serde_json::Value {
    let mut event = connect(origin, headers, query);
    event.request_context.authorizer = Default::default();
    let mut request = serde_json::to_value(event).unwrap_or_default();
    request["type"] = "REQUEST".into();
    request["methodArn"] = format!(
        "arn:aws:execute-api:local:000000000000:{}/{}/$connect",
        origin.api_id, origin.stage
    )
    .into();
    request
}

/// A message API Gateway routed to `route`.
pub(crate) fn message(
    origin: &Origin<'_>,
    route: &RouteKey,
    body: String,
) -> ApiGatewayWebsocketProxyRequest {
    let mut event = base(origin, route, "MESSAGE");
    event.request_context.message_id = Some(ids::request_id());
    event.body = Some(body);
    event
}

/// The `$disconnect` event, with the close code and reason and the handshake's headers.
pub(crate) fn disconnect(
    origin: &Origin<'_>,
    headers: &[(String, String)],
    code: u16,
    reason: &str,
) -> ApiGatewayWebsocketProxyRequest {
    let mut event = base(origin, &RouteKey::Disconnect, "DISCONNECT");
    set_headers(&mut event, headers);
    event.request_context.disconnect_status_code = Some(i64::from(code));
    event.request_context.disconnect_reason = Some(reason.to_owned());
    event
}

/// The parts every event has.
fn base(
    origin: &Origin<'_>,
    route: &RouteKey,
    event_type: &str,
) -> ApiGatewayWebsocketProxyRequest {
    let now = chrono::Utc::now();
    let mut event = ApiGatewayWebsocketProxyRequest::default();
    let rc = &mut event.request_context;
    rc.stage = Some(origin.stage.to_owned());
    rc.request_id = Some(ids::request_id());
    rc.extended_request_id = Some(ids::request_id());
    rc.request_time = Some(now.format("%d/%b/%Y:%H:%M:%S %z").to_string());
    rc.request_time_epoch = now.timestamp_millis();
    rc.message_direction = Some("IN".to_owned());
    rc.connected_at = epoch_millis(origin.connected_at);
    rc.identity.source_ip = Some(origin.source_ip.to_owned());
    rc.identity.user_agent = origin.user_agent.map(str::to_owned);
    rc.domain_name = Some(origin.domain.to_owned());
    rc.connection_id = Some(origin.connection_id.to_owned());
    rc.apiid = Some(origin.api_id.to_owned());
    rc.route_key = Some(route.as_str().to_owned());
    rc.event_type = Some(event_type.to_owned());
    if let Some(authorizer) = origin.authorizer {
        rc.authorizer.fields = authorizer.clone().into_iter().collect();
    }
    event
}

/// API Gateway's two views of the headers: the last value of each, and every value of each.
/// Names and values that HTTP cannot carry are left out.
fn set_headers(event: &mut ApiGatewayWebsocketProxyRequest, headers: &[(String, String)]) {
    let (mut single, mut multi) = (HeaderMap::new(), HeaderMap::new());
    for (name, value) in headers {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) else {
            continue;
        };
        single.insert(name.clone(), value.clone());
        multi.append(name, value);
    }
    event.headers = single;
    event.multi_value_headers = multi;
}

fn epoch_millis(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin<'static> {
        Origin {
            domain: "abc.execute-api.eu-west-1.amazonaws.com",
            api_id: "abc",
            stage: "prod",
            connection_id: "id=",
            connected_at: SystemTime::now(),
            source_ip: "10.0.0.1",
            user_agent: Some("test"),
            authorizer: None,
        }
    }

    #[test]
    fn events_survive_the_json_round_trip_lambda_makes() {
        let headers = [
            ("x-a".to_owned(), "1".to_owned()),
            ("x-a".to_owned(), "2".to_owned()),
        ];
        let query = [("name".to_owned(), "ana".to_owned())];
        let event = connect(&origin(), &headers, &query);
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["requestContext"]["routeKey"], "$connect");
        assert_eq!(json["requestContext"]["eventType"], "CONNECT");
        assert_eq!(
            json["multiValueHeaders"]["x-a"],
            serde_json::json!(["1", "2"])
        );
        let back: ApiGatewayWebsocketProxyRequest = serde_json::from_value(json).unwrap();
        assert_eq!(back.query_string_parameters.first("name"), Some("ana"));
        assert_eq!(back.headers.get("x-a").unwrap(), "2");

        let event = disconnect(&origin(), &headers, 1001, "Going away");
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["requestContext"]["disconnectStatusCode"], 1001);
        let event = message(&origin(), &RouteKey::Default, "{}".into());
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["body"], "{}");
        assert!(json["requestContext"]["messageId"].is_string());
    }
}
