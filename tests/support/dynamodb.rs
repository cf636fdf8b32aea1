//! A real DynamoDB-compatible server for the tests (moto's server, started by `scripts/test`),
//! fresh tables, and a request counter on the real SDK client.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_sdk_dynamodb::error::BoxError;
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
    let store = DynamoDbStore::new(client(&counter), table_name(test));
    assert!(
        store.create_table().await.expect("table created"),
        "the table is new"
    );
    counter.reset();
    (store, counter)
}
