//! A counting proxy in front of a DynamoDB- and SQS-compatible server: every request is
//! forwarded unchanged and counted by its operation (`X-Amz-Target`, or SQS's query `Action`),
//! with the capacity units it costs at on-demand prices (see [`Units`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::Value;

/// Requests and capacity units of one operation.
///
/// Units follow DynamoDB's on-demand billing for items under 1 KB (writes) and 4 KB (reads):
/// a `PutItem`, `UpdateItem` or `DeleteItem` is one write unit, a `BatchWriteItem` one per item,
/// a `TransactWriteItems` two per item; a `GetItem` or a `Query` page one read unit (strongly
/// consistent; an upper bound for the small items a chat keeps), a `BatchGetItem` one per key,
/// a `TransactGetItems` two per item.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Units {
    /// HTTP requests.
    pub requests: u64,
    /// Write request units.
    pub writes: u64,
    /// Read request units.
    pub reads: u64,
}

impl std::ops::AddAssign for Units {
    fn add_assign(&mut self, other: Units) {
        self.requests += other.requests;
        self.writes += other.writes;
        self.reads += other.reads;
    }
}

/// Counts by operation name (`PutItem`, `Query`, `SendMessageBatch`, ...).
pub type Counts = BTreeMap<String, Units>;

/// The running proxy.
pub struct CountingProxy {
    addr: SocketAddr,
    counts: Arc<Mutex<Counts>>,
}

struct Upstream {
    base: String,
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        Full<Bytes>,
    >,
    counts: Arc<Mutex<Counts>>,
}

impl CountingProxy {
    /// Starts it on a free loopback port, forwarding to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> CountingProxy {
        let counts = Arc::new(Mutex::new(Counts::new()));
        let state = Arc::new(Upstream {
            base: upstream.trim_end_matches('/').to_owned(),
            client: hyper_util::client::legacy::Client::builder(
                hyper_util::rt::TokioExecutor::new(),
            )
            .build_http(),
            counts: counts.clone(),
        });
        let routes = axum::Router::new().fallback(forward).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("an address");
        tokio::spawn(async move { axum::serve(listener, routes).await });
        CountingProxy { addr, counts }
    }

    /// Its endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What has been counted so far.
    pub fn counts(&self) -> Counts {
        self.counts.lock().unwrap().clone()
    }
}

/// `after - before`, operation by operation (operations without requests left out).
pub fn difference(after: &Counts, before: &Counts) -> Counts {
    after
        .iter()
        .filter_map(|(op, units)| {
            let was = before.get(op).copied().unwrap_or_default();
            let units = Units {
                requests: units.requests - was.requests,
                writes: units.writes - was.writes,
                reads: units.reads - was.reads,
            };
            (units.requests > 0).then(|| (op.clone(), units))
        })
        .collect()
}

/// The sum over every operation.
pub fn total(counts: &Counts) -> Units {
    let mut sum = Units::default();
    for units in counts.values() {
        sum += *units;
    }
    sum
}

async fn forward(State(upstream): State<Arc<Upstream>>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return axum::http::StatusCode::BAD_REQUEST.into_response();
    };
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|t| t.to_str().ok())
        .map(str::to_owned);
    let (operation, units) = classify(target.as_deref(), &body);
    {
        let mut counts = upstream.counts.lock().unwrap();
        *counts.entry(operation).or_default() += units;
    }
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let mut outgoing = hyper::Request::builder()
        .method(parts.method)
        .uri(format!("{}{path}", upstream.base));
    for (name, value) in &parts.headers {
        outgoing = outgoing.header(name, value);
    }
    let outgoing = outgoing.body(Full::new(body)).expect("a request");
    match upstream.client.request(outgoing).await {
        Ok(answer) => {
            let (parts, body) = answer.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            Response::from_parts(parts, Body::from(body))
        }
        Err(err) => (axum::http::StatusCode::BAD_GATEWAY, err.to_string()).into_response(),
    }
}

/// The operation of a request and its units.
fn classify(target: Option<&str>, body: &[u8]) -> (String, Units) {
    let operation = match target {
        // `DynamoDB_20120810.PutItem`, `AmazonSQS.SendMessageBatch`.
        Some(target) => target.rsplit('.').next().unwrap_or(target).to_owned(),
        // SQS's query protocol: `Action=SendMessage&...`.
        None => std::str::from_utf8(body)
            .ok()
            .and_then(|text| {
                text.split('&')
                    .find_map(|pair| pair.strip_prefix("Action="))
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "other".to_owned()),
    };
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let items = |field: &str| -> u64 {
        match &json[field] {
            Value::Object(tables) => tables
                .values()
                .map(|t| match t {
                    Value::Array(list) => list.len() as u64,
                    Value::Object(keys) => keys
                        .get("Keys")
                        .and_then(Value::as_array)
                        .map_or(0, |k| k.len() as u64),
                    _ => 0,
                })
                .sum(),
            Value::Array(list) => list.len() as u64,
            _ => 0,
        }
    };
    let (writes, reads) = match operation.as_str() {
        "PutItem" | "UpdateItem" | "DeleteItem" => (1, 0),
        "BatchWriteItem" => (items("RequestItems"), 0),
        "TransactWriteItems" => (2 * items("TransactItems"), 0),
        "GetItem" | "Query" | "Scan" => (0, 1),
        "BatchGetItem" => (0, items("RequestItems")),
        "TransactGetItems" => (0, 2 * items("TransactItems")),
        _ => (0, 0),
    };
    (
        operation,
        Units {
            requests: 1,
            writes,
            reads,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_writes_count_their_items() {
        let body = br#"{"RequestItems":{"t":[{"PutRequest":{}},{"DeleteRequest":{}}]}}"#;
        let (op, units) = classify(Some("DynamoDB_20120810.BatchWriteItem"), body);
        assert_eq!(op, "BatchWriteItem");
        assert_eq!((units.requests, units.writes, units.reads), (1, 2, 0));
        let body = br#"{"TransactItems":[{"Put":{}},{"Update":{}},{"Delete":{}}]}"#;
        let (_, units) = classify(Some("DynamoDB_20120810.TransactWriteItems"), body);
        assert_eq!(units.writes, 6);
        let (op, units) = classify(None, b"Action=SendMessage&QueueUrl=x");
        assert_eq!((op.as_str(), units.writes), ("SendMessage", 0));
    }
}
