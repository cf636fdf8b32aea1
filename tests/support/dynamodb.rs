//! A real DynamoDB-compatible server for the tests (moto's server, started by `scripts/test`),
//! fresh tables, and a request counter on the real SDK client.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemInput, BatchGetItemOutput};
use aws_sdk_dynamodb::operation::batch_write_item::{BatchWriteItemInput, BatchWriteItemOutput};
use aws_sdk_dynamodb::types::{KeysAndAttributes, WriteRequest};
use lift_runtime::store::DynamoDbStore;

/// The endpoint of the DynamoDB-compatible server, from `LIFT_TEST_DYNAMODB_ENDPOINT`.
///
/// Panics (failing the test, never passing it silently) when it is not set.
pub fn endpoint() -> String {
    std::env::var("LIFT_TEST_DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "the DynamoDB tests need a DynamoDB-compatible server and were NOT run: use \
             `./scripts/test` (it installs and starts moto's server), or start one yourself and \
             set LIFT_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:PORT"
        )
    })
}

/// DynamoDB requests by operation (`PutItem`, `Query`...), counted as they are sent.
#[derive(Clone, Debug, Default)]
pub struct RequestCounter {
    counts: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl RequestCounter {
    /// Requests of one operation so far.
    pub fn get(&self, operation: &str) -> usize {
        self.counts
            .lock()
            .unwrap()
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// Every request so far, by operation.
    pub fn all(&self) -> BTreeMap<String, usize> {
        self.counts.lock().unwrap().clone()
    }

    /// All requests so far.
    pub fn total(&self) -> usize {
        self.counts.lock().unwrap().values().sum()
    }

    /// Forgets the counts.
    pub fn reset(&self) {
        self.counts.lock().unwrap().clear();
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // DynamoDB's JSON protocol names the operation in `X-Amz-Target: DynamoDB_20120810.Op`.
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("unknown");
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        *self.counts.lock().unwrap().entry(operation).or_default() += 1;
        Ok(())
    }
}

/// A client of the test server, counting its requests.
pub fn client(counter: &RequestCounter) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(endpoint())
        .interceptor(counter.clone())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// A unique table name, so each test has its own table.
pub fn table_name(test: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "lift-{test}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A store on a fresh table (created with the store's own `create_table`), and its counter
/// (reset after creation).
pub async fn store(test: &str) -> (DynamoDbStore, RequestCounter) {
    let counter = RequestCounter::default();
    let store = fresh(client(&counter), test).await;
    counter.reset();
    (store, counter)
}

/// A store on a fresh table whose client injects `faults`, and its counter (reset after
/// creation).
pub async fn store_with(
    test: &str,
    faults: impl Intercept + 'static,
) -> (DynamoDbStore, RequestCounter) {
    let counter = RequestCounter::default();
    let client = client_with(&counter, faults);
    let store = fresh(client, test).await;
    counter.reset();
    (store, counter)
}

async fn fresh(client: aws_sdk_dynamodb::Client, test: &str) -> DynamoDbStore {
    let store = DynamoDbStore::new(client, table_name(test));
    assert!(
        store.create_table().await.expect("table created"),
        "the table is new"
    );
    store
}

/// Fault injection on the real SDK client: the first `batch_gets` `BatchGetItem`s and the first
/// `batch_writes` `BatchWriteItem`s send only the first half of their keys or items to the
/// server and answer the other half as DynamoDB does when it is throttled (`UnprocessedKeys`,
/// `UnprocessedItems`), so the caller must retry them. [`Unprocessed::always`] answers every
/// key and item of every batch as unprocessed (after sending them: a DynamoDB that never
/// catches up, as the client sees it).
#[derive(Clone, Debug, Default)]
pub struct Unprocessed {
    state: Arc<Mutex<UnprocessedState>>,
}

#[derive(Debug, Default)]
struct UnprocessedState {
    batch_gets: usize,
    batch_writes: usize,
    /// Hold back everything, for ever.
    always: bool,
    /// What the request in flight held back, to answer as unprocessed.
    held_back: Option<HeldBack>,
    /// Keys and items answered as unprocessed so far.
    injected: usize,
}

#[derive(Debug)]
enum HeldBack {
    Keys(HashMap<String, KeysAndAttributes>),
    Items(HashMap<String, Vec<WriteRequest>>),
}

impl Unprocessed {
    /// Faults for the first `batch_gets` `BatchGetItem`s and `batch_writes` `BatchWriteItem`s.
    pub fn new(batch_gets: usize, batch_writes: usize) -> Self {
        let state = UnprocessedState {
            batch_gets,
            batch_writes,
            ..UnprocessedState::default()
        };
        Unprocessed {
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// Every batch answers all of its keys or items as unprocessed.
    pub fn always() -> Self {
        let state = UnprocessedState {
            batch_gets: usize::MAX,
            batch_writes: usize::MAX,
            always: true,
            ..UnprocessedState::default()
        };
        Unprocessed {
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// Keys and items answered as unprocessed so far.
    pub fn injected(&self) -> usize {
        self.state.lock().unwrap().injected
    }
}

/// Splits `all` in what is sent and what is held back: halves, or (`always`) all of it sent
/// and all of it held back too.
fn split<T: Clone>(mut all: Vec<T>, always: bool) -> (Vec<T>, Vec<T>) {
    if always {
        return (all.clone(), all);
    }
    let back = all.split_off(all.len().div_ceil(2));
    (all, back)
}

impl Intercept for Unprocessed {
    fn name(&self) -> &'static str {
        "Unprocessed"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let mut state = self.state.lock().unwrap();
        let input = context.input_mut();
        if let Some(input) = input.downcast_mut::<BatchGetItemInput>() {
            if state.batch_gets == 0 {
                return Ok(());
            }
            state.batch_gets -= 1;
            let always = state.always;
            let mut held = HashMap::new();
            for (table, request) in input.request_items.iter_mut().flatten() {
                let (send, back) = split(request.keys.clone(), always);
                state.injected += back.len();
                request.keys = send;
                let mut back_request = request.clone();
                back_request.keys = back;
                held.insert(table.clone(), back_request);
            }
            state.held_back = Some(HeldBack::Keys(held));
        } else if let Some(input) = input.downcast_mut::<BatchWriteItemInput>() {
            if state.batch_writes == 0 {
                return Ok(());
            }
            state.batch_writes -= 1;
            let always = state.always;
            let mut held = HashMap::new();
            for (table, requests) in input.request_items.iter_mut().flatten() {
                let (send, back) = split(std::mem::take(requests), always);
                state.injected += back.len();
                *requests = send;
                held.insert(table.clone(), back);
            }
            state.held_back = Some(HeldBack::Items(held));
        }
        Ok(())
    }

    fn modify_before_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(held) = self.state.lock().unwrap().held_back.take() else {
            return Ok(());
        };
        let Some(Ok(output)) = context.output_or_error_mut() else {
            return Ok(());
        };
        match held {
            HeldBack::Keys(keys) => {
                if let Some(output) = output.downcast_mut::<BatchGetItemOutput>() {
                    output.unprocessed_keys = Some(keys);
                }
            }
            HeldBack::Items(items) => {
                if let Some(output) = output.downcast_mut::<BatchWriteItemOutput>() {
                    output.unprocessed_items = Some(items);
                }
            }
        }
        Ok(())
    }
}

/// A client of the test server with a counter and another interceptor (a fault injector).
pub fn client_with(
    counter: &RequestCounter,
    faults: impl Intercept + 'static,
) -> aws_sdk_dynamodb::Client {
    let config = client(counter)
        .config()
        .to_builder()
        .interceptor(faults)
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}
