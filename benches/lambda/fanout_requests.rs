//! AWS requests of fan-out: a message to everyone in a chat of [`MEMBERS`] connections, through
//! lift's chat set to hand rooms over 100 members to its SQS queue. The queue is on the same
//! moto server as DynamoDB, behind the same [`CountingProxy`]; Lambda's event source mapping is
//! played by the runtime's own `SqsQueue` poller (talking to moto directly: those receives are
//! the event source mapping's, not the function's), which invokes the function through the
//! Runtime API stub with each batch, as Lambda would.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lift_runtime::fanout::{Deliver, FanoutQueue, SqsQueue};
use lift_tests::faults::FaultServer;
use lift_tests::runtime_api::RuntimeApi;

use super::proxy::{difference, total, CountingProxy, Counts};
use super::{create_tables, event, lambda_env, now_ms, spawn};

/// The connections the message reaches (the sender among them).
pub const MEMBERS: usize = 1_000;

/// What one message to [`MEMBERS`] connections cost, every invocation it took included.
#[derive(Clone, Debug)]
pub struct FanoutCost {
    /// DynamoDB and SQS requests of the function, by operation.
    pub store: Counts,
    /// Management API posts.
    pub posts: u64,
    /// Invocations with an SQS batch.
    pub batches: usize,
}

/// Runs it: `endpoint` speaks DynamoDB and SQS (moto's server). `None`, with the reason
/// printed, when it has no SQS.
///
/// # Panics
///
/// When an event is not answered 200 or the message does not reach every member in a minute.
pub async fn run(endpoint: &str, binary: &Path) -> Option<FanoutCost> {
    let suffix = now_ms();
    let table = format!("fanout-lift-{suffix}");
    create_tables(endpoint, &table, &format!("fanout-hand-{suffix}")).await;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .load()
        .await;
    let queue_url = match aws_sdk_sqs::Client::new(&config)
        .create_queue()
        .queue_name(format!("fanout-{suffix}"))
        .send()
        .await
    {
        Ok(out) => out.queue_url.expect("a queue URL"),
        Err(err) => {
            println!("fanout requests: skipped (no SQS at {endpoint}: {err})");
            return None;
        }
    };
    let proxy = CountingProxy::start(endpoint).await;
    let api = RuntimeApi::start().await;
    let management = FaultServer::start().await;
    let mut env = lambda_env(&api.address(), &proxy.endpoint());
    env.extend([
        ("LIFT_TABLE_NAME", table),
        ("LIFT_MANAGEMENT_ENDPOINT", management.endpoint()),
        ("LIFT_PRESENCE", "0".to_owned()),
        ("LIFT_HISTORY_SECS", "0".to_owned()),
        ("LIFT_FANOUT_QUEUE_URL", queue_url.clone()),
        ("AWS_ENDPOINT_URL_SQS", proxy.endpoint()),
        ("LIFT_FANOUT_THRESHOLD", "100".to_owned()),
    ]);
    let mut child = spawn(binary, &env);

    let id = |n: usize| format!("FAN{suffix}{n:04}=");
    for n in 0..MEMBERS {
        let answer = api
            .call(
                &format!("c{n}"),
                event(&id(n), &format!("fan{n}"), "$connect", None),
            )
            .await;
        assert_eq!(answer["statusCode"], 200, "$connect: {answer}");
    }

    // Lambda's event source mapping: batches of the queue, each one invocation.
    let batches = Arc::new(AtomicUsize::new(0));
    let deliver: Deliver = {
        let (api, batches) = (api.clone(), batches.clone());
        Arc::new(move |records, _deadline| {
            let (api, batches) = (api.clone(), batches.clone());
            Box::pin(async move {
                let n = batches.fetch_add(1, Ordering::SeqCst);
                let records = serde_json::to_vec(&records).expect("an SQS event serialises");
                let answer = api.call(&format!("q{n}"), records).await;
                serde_json::from_value(answer).expect("a batch response")
            })
        })
    };
    let pump = SqsQueue::new(&config, &queue_url)
        .deliver(deliver)
        .expect("the SQS queue delivers");

    let (store_before, posts_before) = (proxy.counts(), management.total_delivered());
    let body = r#"{"action":"sendMessage","text":"to everyone"}"#;
    let answer = api
        .call("send", event(&id(0), "fan0", "sendMessage", Some(body)))
        .await;
    assert_eq!(answer["statusCode"], 200, "sendMessage: {answer}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while management.total_delivered() - posts_before < MEMBERS {
        assert!(
            Instant::now() < deadline,
            "the message reached {} of {MEMBERS} members in a minute",
            management.total_delivered() - posts_before
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Deletes of the last batch, and anything a consumer left running, are counted too.
    tokio::time::sleep(Duration::from_millis(500)).await;
    pump.abort();
    let cost = FanoutCost {
        store: difference(&proxy.counts(), &store_before),
        posts: (management.total_delivered() - posts_before) as u64,
        batches: batches.load(Ordering::SeqCst),
    };
    let _ = child.kill();
    let _ = child.wait();
    Some(cost)
}

/// SQS's operations among `counts`' (the rest are DynamoDB's).
fn is_sqs(operation: &str) -> bool {
    [
        "SendMessage",
        "ReceiveMessage",
        "DeleteMessage",
        "ChangeMessageVisibility",
    ]
    .iter()
    .any(|prefix| operation.starts_with(prefix))
}

/// Prints what the message cost: requests by operation, and dollars per million such messages.
pub fn report(cost: &FanoutCost) {
    use super::requests::prices;
    let units = total(&cost.store);
    let sqs: u64 = cost
        .store
        .iter()
        .filter(|(operation, _)| is_sqs(operation))
        .map(|(_, units)| units.requests)
        .sum();
    let ops: Vec<String> = cost
        .store
        .iter()
        .map(|(operation, units)| format!("{operation} {}", units.requests))
        .collect();
    let (writes, reads, requests) = (units.writes, units.reads, units.requests + cost.posts);
    let dollars = writes as f64 * prices::WRITE_UNITS
        + reads as f64 * prices::READ_UNITS
        + sqs as f64 * prices::SQS_REQUESTS
        + cost.posts as f64 * prices::MESSAGES;
    println!(
        "requests fan-out: a message to {MEMBERS} members through SQS: {requests} requests ({}; \
         {} posts), {} SQS batches, ${dollars:.2} per million messages (${:.2} without the posts)",
        ops.join(", "),
        cost.posts,
        cost.batches,
        dollars - cost.posts as f64 * prices::MESSAGES,
    );
}
