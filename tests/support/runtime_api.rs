//! A local stub of the Lambda Runtime API (`/2018-06-01/runtime/invocation/...`), for the real
//! `lambda_runtime` client that `App::run()` starts under Lambda: events go in as raw bytes
//! (so events that are not JSON can be tried), answers come out as JSON.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::{json, Value};
use tokio::sync::Notify;

/// An invocation waiting for `/next`: request id, event, X-Ray trace header.
type Invocation = (String, Vec<u8>, Option<String>);

#[derive(Default)]
struct Queue {
    events: Mutex<VecDeque<Invocation>>,
    responses: Mutex<HashMap<String, Value>>,
    /// When each invocation was answered.
    answered_at: Mutex<HashMap<String, Instant>>,
    /// When `/next` was first called since [`RuntimeApi::reset_first_poll`].
    first_poll: Mutex<Option<Instant>>,
    event_queued: Notify,
    answered: Notify,
}

/// The running stub. Cheap to clone.
#[derive(Clone)]
pub struct RuntimeApi {
    queue: Arc<Queue>,
    addr: SocketAddr,
}

impl RuntimeApi {
    /// Starts it on a free loopback port.
    pub async fn start() -> RuntimeApi {
        let queue = Arc::new(Queue::default());
        let routes = axum::Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(respond),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .with_state(queue.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, routes).await });
        RuntimeApi { queue, addr }
    }

    /// `host:port`, for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Queues an invocation with this request id and event.
    pub fn invoke(&self, request_id: &str, event: impl Into<Vec<u8>>) {
        self.invoke_traced(request_id, event, None);
    }

    /// Queues an invocation with this request id, event and X-Ray trace header (what Lambda
    /// sends as `Lambda-Runtime-Trace-Id`).
    pub fn invoke_traced(&self, request_id: &str, event: impl Into<Vec<u8>>, trace: Option<&str>) {
        self.queue.events.lock().unwrap().push_back((
            request_id.to_owned(),
            event.into(),
            trace.map(str::to_owned),
        ));
        self.queue.event_queued.notify_one();
    }

    /// The answers so far, by request id: the function's response, or
    /// `{"invocationError": BODY}` when the runtime client reported an error.
    pub fn responses(&self) -> HashMap<String, Value> {
        self.queue.responses.lock().unwrap().clone()
    }

    /// When the function first asked for an event (`/next`) since the last
    /// [`reset_first_poll`](Self::reset_first_poll): the end of its initialisation, what Lambda
    /// reports as the init duration.
    pub fn first_poll(&self) -> Option<Instant> {
        *self.queue.first_poll.lock().unwrap()
    }

    /// Forgets the first poll, before a new process starts.
    pub fn reset_first_poll(&self) {
        *self.queue.first_poll.lock().unwrap() = None;
    }

    /// When the invocation `request_id` was answered.
    pub fn answered_at(&self, request_id: &str) -> Option<Instant> {
        self.queue
            .answered_at
            .lock()
            .unwrap()
            .get(request_id)
            .copied()
    }

    /// Invokes and waits (up to 30 s) for the answer.
    ///
    /// # Panics
    ///
    /// When no answer comes in time.
    pub async fn call(&self, request_id: &str, event: impl Into<Vec<u8>>) -> Value {
        self.invoke(request_id, event);
        self.answer(request_id).await
    }

    /// Waits (up to 30 s) for the answer to an invocation queued with [`invoke`](Self::invoke),
    /// and takes it out of [`responses`](Self::responses).
    ///
    /// # Panics
    ///
    /// When no answer comes in time.
    pub async fn answer(&self, request_id: &str) -> Value {
        let answer = async {
            loop {
                let answered = self.queue.answered.notified();
                if let Some(answer) = self.queue.responses.lock().unwrap().remove(request_id) {
                    return answer;
                }
                answered.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), answer)
            .await
            .unwrap_or_else(|_| panic!("invocation {request_id} was not answered"))
    }
}

async fn next(State(queue): State<Arc<Queue>>) -> (HeaderMap, Vec<u8>) {
    queue
        .first_poll
        .lock()
        .unwrap()
        .get_or_insert_with(Instant::now);
    loop {
        let queued = queue.event_queued.notified();
        let event = queue.events.lock().unwrap().pop_front();
        if let Some((id, event, trace)) = event {
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
                + 30_000;
            let mut headers = HeaderMap::new();
            headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
            headers.insert(
                "lambda-runtime-deadline-ms",
                deadline.to_string().parse().unwrap(),
            );
            headers.insert(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:chat"
                    .parse()
                    .unwrap(),
            );
            headers.insert("content-type", "application/json".parse().unwrap());
            if let Some(trace) = trace {
                headers.insert("lambda-runtime-trace-id", trace.parse().unwrap());
            }
            return (headers, event);
        }
        queued.await;
    }
}

async fn respond(
    State(queue): State<Arc<Queue>>,
    Path(id): Path<String>,
    body: String,
) -> StatusCode {
    // The runtime client sends JSON without a content type.
    let body = serde_json::from_str(&body).expect("the response is JSON");
    answer(&queue, id, body)
}

async fn fail(State(queue): State<Arc<Queue>>, Path(id): Path<String>, body: String) -> StatusCode {
    answer(&queue, id, json!({ "invocationError": body }))
}

fn answer(queue: &Queue, id: String, body: Value) -> StatusCode {
    let now = Instant::now();
    queue.answered_at.lock().unwrap().insert(id.clone(), now);
    queue.responses.lock().unwrap().insert(id, body);
    queue.answered.notify_waiters();
    StatusCode::ACCEPTED
}

/// Sets what Lambda sets in a function's environment (region, credentials, the Runtime API's
/// address), plus `extra`. Call it once, in a test binary of its own: it changes the process.
pub fn lambda_environment(api: &RuntimeApi, extra: &[(&str, &str)]) {
    let base = [
        ("AWS_LAMBDA_RUNTIME_API", api.address()),
        ("AWS_LAMBDA_FUNCTION_NAME", "chat".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "AKIDLAMBDA".into()),
        ("AWS_SECRET_ACCESS_KEY", "secret".into()),
    ];
    let extra = extra.iter().map(|(k, v)| (*k, (*v).to_owned()));
    for (key, value) in base.into_iter().chain(extra) {
        std::env::set_var(key, value);
    }
}
