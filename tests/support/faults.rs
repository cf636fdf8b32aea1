//! A fake Management API that injects faults on chosen connection ids (429, 5xx, 410, 403,
//! slow answers, connection resets), and a connection store that injects store faults. A fake is right here: it exists to inject faults; the real emulator's
//! Management API is tested with the real SDK elsewhere.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::StreamExt;
use lift_runtime::store::{Connection, ConnectionStore, Member, Pages};
use lift_runtime::StoreError;

/// What the server answers a connection id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// 200: delivered.
    Deliver,
    /// 429 `LimitExceededException` this many times, then delivered.
    Throttle(u32),
    /// 500 this many times, then delivered.
    ServerError(u32),
    /// 410 `GoneException`.
    Gone,
    /// 403 `ForbiddenException`.
    Forbidden,
    /// This status, with no error type, every time (a proxy's 502/503/504, an unmodelled 400).
    Status(u16),
    /// Delivered, but answered only after this long.
    Stall(Duration),
}

#[derive(Default)]
struct FaultState {
    plans: Mutex<HashMap<String, Plan>>,
    delivered: Mutex<HashMap<String, usize>>,
    attempts: Mutex<HashMap<String, usize>>,
    delay: Mutex<Duration>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// Each request's connection id and `X-Amzn-Trace-Id` header, in arrival order.
    traces: Mutex<Vec<(String, Option<String>)>>,
}

/// Counts a request in flight while it lives.
struct InFlight<'a>(&'a FaultState);

impl<'a> InFlight<'a> {
    fn new(state: &'a FaultState) -> Self {
        let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(state)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The running fake.
pub struct FaultServer {
    addr: SocketAddr,
    state: Arc<FaultState>,
}

impl FaultServer {
    /// Starts it on a free loopback port.
    pub async fn start() -> FaultServer {
        let state = Arc::new(FaultState::default());
        let routes = axum::Router::new()
            .route("/{stage}/@connections/{id}", post(post_stage))
            .route("/@connections/{id}", post(post_root))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, routes).await });
        FaultServer { addr, state }
    }

    /// Its endpoint, `http://127.0.0.1:PORT/prod`.
    pub fn endpoint(&self) -> String {
        format!("http://{}/prod", self.addr)
    }

    /// Answers `id` according to `plan` (default: deliver).
    pub fn plan(&self, id: &str, plan: Plan) {
        self.state.plans.lock().unwrap().insert(id.to_owned(), plan);
    }

    /// Waits this long before every answer.
    pub fn delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }

    /// Each request's connection id and `X-Amzn-Trace-Id` header, in arrival order.
    pub fn traces(&self) -> Vec<(String, Option<String>)> {
        self.state.traces.lock().unwrap().clone()
    }

    /// How many times a message was delivered to `id`.
    pub fn delivered(&self, id: &str) -> usize {
        self.state
            .delivered
            .lock()
            .unwrap()
            .get(id)
            .copied()
            .unwrap_or(0)
    }

    /// How many requests named `id`.
    pub fn attempts(&self, id: &str) -> usize {
        self.state
            .attempts
            .lock()
            .unwrap()
            .get(id)
            .copied()
            .unwrap_or(0)
    }

    /// The most requests it has had in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }

    /// All deliveries.
    pub fn total_delivered(&self) -> usize {
        self.state.delivered.lock().unwrap().values().sum()
    }
}

async fn post_stage(
    state: State<Arc<FaultState>>,
    Path((_, id)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Response {
    note_trace(&state, &id, &headers);
    answer(state, id).await
}

async fn post_root(
    state: State<Arc<FaultState>>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
) -> Response {
    note_trace(&state, &id, &headers);
    answer(state, id).await
}

fn note_trace(state: &FaultState, id: &str, headers: &axum::http::HeaderMap) {
    let trace = headers
        .get("x-amzn-trace-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    state.traces.lock().unwrap().push((id.to_owned(), trace));
}

/// An endpoint whose server reads each request and then resets the TCP connection without an
/// answer (RST, as a crashed proxy or a dropped NAT mapping does), and how many requests it
/// has had.
pub async fn resetting_endpoint() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut buffer = [0; 8192];
                if matches!(stream.read(&mut buffer).await, Ok(n) if n > 0) {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
                // Linger 0: closing sends RST instead of FIN.
                let _ = stream.set_zero_linger();
                drop(stream);
            });
        }
    });
    (format!("http://{addr}/prod"), requests)
}

fn error(status: StatusCode, kind: &str) -> Response {
    (
        status,
        [
            ("x-amzn-errortype", kind),
            ("content-type", "application/json"),
        ],
        r#"{"message":"injected"}"#,
    )
        .into_response()
}

async fn answer(State(state): State<Arc<FaultState>>, id: String) -> Response {
    let _in_flight = InFlight::new(&state);
    let delay = *state.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    *state
        .attempts
        .lock()
        .unwrap()
        .entry(id.clone())
        .or_default() += 1;
    let plan = {
        let mut plans = state.plans.lock().unwrap();
        let plan = plans.get(&id).copied().unwrap_or(Plan::Deliver);
        // Count down the transient faults.
        match plan {
            Plan::Throttle(n) if n > 0 => {
                plans.insert(id.clone(), Plan::Throttle(n - 1));
            }
            Plan::ServerError(n) if n > 0 => {
                plans.insert(id.clone(), Plan::ServerError(n - 1));
            }
            _ => {}
        }
        plan
    };
    if let Plan::Stall(wait) = plan {
        tokio::time::sleep(wait).await;
    }
    match plan {
        Plan::Throttle(n) if n > 0 => {
            error(StatusCode::TOO_MANY_REQUESTS, "LimitExceededException")
        }
        Plan::ServerError(n) if n > 0 => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerErrorException",
        ),
        Plan::Gone => error(StatusCode::GONE, "GoneException"),
        Plan::Forbidden => error(StatusCode::FORBIDDEN, "ForbiddenException"),
        Plan::Status(status) => (
            StatusCode::from_u16(status).unwrap(),
            "<html>upstream failure</html>",
        )
            .into_response(),
        _ => {
            *state.delivered.lock().unwrap().entry(id).or_default() += 1;
            StatusCode::OK.into_response()
        }
    }
}

/// A `MemoryStore` with faults injected: it counts the pages of members and the connection
/// records it reads, can fail reading members after `members_fail_after` pages, and can fail
/// every `join`. The other operations are the memory store's.
#[derive(Clone, Default)]
pub struct FaultyStore {
    /// The store underneath.
    pub inner: lift_runtime::store::MemoryStore,
    /// Pages of members read before the next read fails.
    pub members_fail_after: Option<usize>,
    /// Every `join` fails.
    pub fail_join: bool,
    /// Pages of members read so far.
    pub pages_read: Arc<AtomicUsize>,
    /// Connection records read so far (`get`).
    pub gets: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl ConnectionStore for FaultyStore {
    async fn save(&self, c: &Connection) -> Result<(), StoreError> {
        self.inner.save(c).await
    }
    async fn get(&self, id: &str) -> Result<Option<Connection>, StoreError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(id).await
    }
    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        self.inner.delete(id).await
    }
    async fn refresh(&self, id: &str, expires_at: SystemTime) -> Result<(), StoreError> {
        self.inner.refresh(id, expires_at).await
    }
    async fn user_connections(&self, user: &str) -> Result<Vec<Connection>, StoreError> {
        self.inner.user_connections(user).await
    }
    async fn join(&self, id: &str, room: &str) -> Result<(), StoreError> {
        if self.fail_join {
            return Err(StoreError::new("injected: join failed", None));
        }
        self.inner.join(id, room).await
    }
    async fn leave(&self, id: &str, room: &str) -> Result<(), StoreError> {
        self.inner.leave(id, room).await
    }
    fn members<'a>(&'a self, room: &'a str) -> Pages<'a, Member> {
        let pages = self
            .inner
            .members(room)
            .inspect(|_| {
                self.pages_read.fetch_add(1, Ordering::SeqCst);
            })
            .boxed();
        match self.members_fail_after {
            None => pages,
            Some(n) => pages
                .take(n)
                .chain(futures_util::stream::once(async {
                    Err(StoreError::new(
                        "injected: the next page could not be read",
                        None,
                    ))
                }))
                .boxed(),
        }
    }
    async fn member_page(
        &self,
        room: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<lift_runtime::store::MemberPage, StoreError> {
        let read = self.pages_read.fetch_add(1, Ordering::SeqCst);
        if self.members_fail_after.is_some_and(|n| read >= n) {
            return Err(StoreError::new(
                "injected: the next page could not be read",
                None,
            ));
        }
        self.inner.member_page(room, cursor, limit).await
    }
    async fn remove_many(&self, ids: &[String]) -> Result<(), StoreError> {
        self.inner.remove_many(ids).await
    }
    async fn list(&self) -> Result<Vec<Connection>, StoreError> {
        self.inner.list().await
    }
}
