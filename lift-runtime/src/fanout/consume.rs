//! The consumer of fan-out records: an SQS event's batch, sent to, expanded, or put back.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};

use super::{read_members, Fanout, Target, Task};
use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;
use tracing::Instrument;

use crate::error::SendError;
use crate::observe::{FanoutBatch, Metrics};
use crate::outbound::{
    retryable, send_one, BroadcastSettings, Clients, ManagementApi, Outcome, Pacer,
};
use crate::store::ConnectionStore;

/// What a consumer needs of the service.
pub(crate) struct Consumer<'a> {
    pub(crate) fanout: &'a Fanout,
    pub(crate) clients: &'a Clients,
    pub(crate) store: &'a Arc<dyn ConnectionStore>,
    pub(crate) config: &'a BroadcastSettings,
    /// Where the batch's EMF line goes, when the app has [`Metrics`].
    pub(crate) metrics: Option<&'a Metrics>,
}

/// What one batch did, for the log line.
#[derive(Debug, Default)]
struct Tally {
    sent: usize,
    gone: usize,
    dropped: usize,
    requeued: usize,
    expanded: usize,
    expired: usize,
    duplicates: usize,
    /// Messages this batch gave up on: failed for good, in expired records, or in records
    /// dead-lettered by this failure.
    undelivered: usize,
    /// Failed records SQS delivers again.
    retried: usize,
    /// Failed records at their last receive: SQS moves them to the dead-letter queue.
    dead_lettered: usize,
}

impl Tally {
    /// A record reported failed: retried, or dead-lettered at its last receive (`ids` members
    /// then never get the message).
    fn failure(&mut self, record: &SqsMessage, ids: usize, max_receives: u32) -> BatchItemFailure {
        let receives: u32 = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        if receives >= max_receives {
            self.dead_lettered += 1;
            self.undelivered += ids;
        } else {
            self.retried += 1;
        }
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = record.message_id.clone().unwrap_or_default();
        failure
    }
}

/// Consumes one SQS event of fan-out records: cursor records are expanded first (so other
/// consumers get their id records soon), then the id records are sent, paced to this
/// consumer's share of the rate. Answers the records SQS should deliver again.
pub(crate) async fn consume(
    c: Consumer<'_>,
    event: SqsEvent,
    deadline: Instant,
) -> SqsBatchResponse {
    let started = Instant::now();
    let records = event.records.len();
    let max_receives = c.fanout.config.max_receives;
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    let mut tasks = Vec::new();
    for record in event.records {
        match parse(&record) {
            Ok(task) => tasks.push((record, task)),
            Err(reason) => {
                tracing::error!(
                    message_id = record.message_id.as_deref().unwrap_or(""),
                    reason,
                    "not a fan-out record; it stays on the queue until it reaches the dead-letter queue"
                );
                failures.push(tally.failure(&record, 0, max_receives));
            }
        }
    }
    let now = SystemTime::now();
    let mut sends = Vec::new();
    for (record, task) in tasks {
        if task.is_expired(now) {
            tally.expired += 1;
            tally.undelivered += task.ids();
        } else if c.fanout.is_done(&task.key) {
            tally.duplicates += 1;
        } else if let Target::Rest { cursor, except } = &task.to {
            // Cursor records first, so other consumers get their id records soon.
            let expanded = expand(&c, &task, cursor.clone(), except.as_deref(), &mut tally)
                .instrument(record_span(&task))
                .await;
            if expanded {
                c.fanout.mark_done(&task.key);
            } else {
                failures.push(tally.failure(&record, 0, max_receives));
            }
        } else {
            sends.push((record, task));
        }
    }
    // Every id record of the batch through one bounded-concurrency stream, paced to this
    // consumer's share of the rate: a record's last sends never hold up the next one's.
    let pacer = Pacer::new(c.fanout.config.consumer_rate());
    let outcomes = send_all(&c, &sends, deadline, &pacer).await;
    for ((record, task), outcome) in sends.into_iter().zip(outcomes) {
        let span = record_span(&task);
        if settle(&c, &task, outcome, &mut tally)
            .instrument(span)
            .await
        {
            c.fanout.mark_done(&task.key);
        } else {
            failures.push(tally.failure(&record, task.ids(), max_receives));
        }
    }
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let t = &tally;
    tracing::info!(
        sent = t.sent,
        gone = t.gone,
        requeued = t.requeued,
        expanded = t.expanded,
        expired = t.expired,
        duplicates = t.duplicates,
        dropped = t.dropped,
        retried = t.retried,
        dead_lettered = t.dead_lettered,
        elapsed_ms,
        "fan-out batch"
    );
    if t.retried > 0 {
        tracing::warn!(
            retried = t.retried,
            "fan-out records failed: SQS delivers them again"
        );
    }
    if t.dead_lettered > 0 {
        tracing::error!(
            dead_lettered = t.dead_lettered,
            undelivered = t.undelivered,
            "fan-out records failed at their last receive: SQS moves them to the dead-letter queue"
        );
    }
    if let Some(metrics) = c.metrics {
        metrics.fanout_batch(&FanoutBatch {
            records,
            retried: t.retried,
            dead_lettered: t.dead_lettered,
            delivered: t.sent,
            gone: t.gone,
            undelivered: t.undelivered,
            queued: t.expanded,
            elapsed: started.elapsed(),
        });
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    response
}

fn parse(record: &SqsMessage) -> Result<Task, String> {
    let body = record.body.as_deref().ok_or("the record has no body")?;
    serde_json::from_str(body).map_err(|err| err.to_string())
}

/// Turns up to `expand_per_record` members after the cursor into id records, and the rest of
/// the room into a cursor record; queues them all. `false` when the store or the queue failed
/// (the record is then delivered again: the id records queued so far may be queued twice).
async fn expand(
    c: &Consumer<'_>,
    task: &Task,
    cursor: Option<String>,
    except: Option<&str>,
    tally: &mut Tally,
) -> bool {
    let config = &c.fanout.config;
    let read = read_members(
        &**c.store,
        &task.room,
        except,
        cursor,
        config.expand_per_record,
        config.ids_per_record.max(100),
    )
    .await;
    let (ids, cursor) = match read {
        Ok(read) => read,
        Err(err) => {
            tracing::warn!(room = %task.room, error = %err, "could not read the room's members");
            return false;
        }
    };
    let end = cursor.is_none();
    let (base, n) = split_rest_key(&task.key);
    let count = ids.len();
    // The cursor for the rest goes first: the next expansion starts while these members are
    // being sent, so the queue stays ahead of the consumers.
    let mut records = Vec::new();
    if !end {
        let mut rest = task.clone();
        rest.key = format!("{base}.r{}", n + 1);
        rest.to = Target::Rest {
            cursor,
            except: except.map(str::to_owned),
        };
        records.push(rest);
    }
    records.extend(task.chunks(ids, config.ids_per_record, &task.key));
    match c.fanout.enqueue(&records).await {
        Ok(()) => {
            tally.expanded += count;
            true
        }
        Err(err) => {
            tracing::warn!(room = %task.room, error = %err, "could not queue the room's next members");
            false
        }
    }
}

/// `"{base}.r{n}"` → (`base`, n); any other key is its own base, at 0.
fn split_rest_key(key: &str) -> (&str, u64) {
    match key.rsplit_once(".r") {
        Some((base, n)) => match n.parse() {
            Ok(n) => (base, n),
            Err(_) => (key, 0),
        },
        None => (key, 0),
    }
}

/// What the sends of one record did.
#[derive(Default)]
struct RecordOutcome {
    sent: usize,
    gone: Vec<String>,
    failed: Vec<(String, SendError)>,
    not_attempted: Vec<String>,
}

/// Sends each id record's message to its ids, all records' sends in one stream of bounded
/// concurrency; the outcomes record by record.
async fn send_all(
    c: &Consumer<'_>,
    records: &[(SqsMessage, Task)],
    deadline: Instant,
    pacer: &Pacer,
) -> Vec<RecordOutcome> {
    let apis: Vec<_> = records
        .iter()
        .map(|(_, task)| c.clients.get(&task.endpoint))
        .collect();
    // Each record's message as shared bytes: one copy per record, none per connection.
    let messages: Vec<bytes::Bytes> = records
        .iter()
        .map(|(_, task)| bytes::Bytes::copy_from_slice(task.data.as_bytes()))
        .collect();
    let mut jobs = Vec::new();
    for (n, (_, task)) in records.iter().enumerate() {
        if let Target::Ids(ids) = &task.to {
            jobs.extend(ids.iter().map(|id| (n, id.as_str())));
        }
    }
    let mut jobs = jobs.into_iter();
    let mut running = FuturesUnordered::new();
    let mut by_record: Vec<RecordOutcome> =
        records.iter().map(|_| RecordOutcome::default()).collect();
    loop {
        while running.len() < c.config.concurrency.max(1) {
            let Some((n, id)) = jobs.next() else { break };
            running.push(send_job(
                &*apis[n],
                n,
                id,
                &messages[n],
                deadline,
                c.config,
                pacer,
            ));
        }
        let Some((n, id, outcome)) = running.next().await else {
            break;
        };
        let record = &mut by_record[n];
        match outcome {
            Outcome::Sent => record.sent += 1,
            Outcome::Gone => record.gone.push(id.to_owned()),
            Outcome::Failed(err) => record.failed.push((id.to_owned(), err)),
            Outcome::NotAttempted => record.not_attempted.push(id.to_owned()),
        }
    }
    by_record
}

/// One send of [`send_all`], with the record it belongs to.
async fn send_job<'a>(
    api: &'a dyn ManagementApi,
    n: usize,
    id: &'a str,
    data: &'a bytes::Bytes,
    deadline: Instant,
    config: &'a BroadcastSettings,
    pacer: &'a Pacer,
) -> (usize, &'a str, Outcome) {
    (
        n,
        id,
        send_one(api, id, data, deadline, config, Some(pacer)).await,
    )
}

/// After a record's sends: connections found gone are removed; ids a retry may still reach
/// are queued again as a record of their own (so no connection gets the message twice) when
/// some progress was made or none was attempted; the record counts as failed when every
/// attempt failed (SQS delivers it again, and dead-letters it in the end). `true` when the
/// record is done with.
/// The span of one record's work: its room, this invocation's trace, and the invocation whose
/// broadcast queued it (its request id and X-Ray trace), so the consumer's lines lead back to
/// the broadcast.
fn record_span(task: &Task) -> tracing::Span {
    let origin = task.origin.as_ref();
    let span = tracing::info_span!(
        "fanout_record",
        room = %task.room,
        trace_id = tracing::field::Empty,
        origin_request_id = origin.map_or("", |o| o.request_id.as_str()),
        origin_trace_id = origin.and_then(|o| o.trace_id.as_deref()).unwrap_or(""),
    );
    if let Some(trace) = crate::trace::trace_header() {
        span.record("trace_id", trace.as_str());
    }
    #[cfg(feature = "otlp")]
    if let Some(parent) = origin.and_then(|o| o.traceparent.as_deref()) {
        crate::observe::otlp::continue_traceparent(&span, parent);
    }
    span
}

async fn settle(c: &Consumer<'_>, task: &Task, outcome: RecordOutcome, tally: &mut Tally) -> bool {
    tracing::info!(
        sent = outcome.sent,
        gone = outcome.gone.len(),
        failed = outcome.failed.len(),
        "fan-out record"
    );
    let total = match &task.to {
        Target::Ids(ids) => ids.len(),
        Target::Rest { .. } => 0,
    };
    tally.sent += outcome.sent;
    tally.gone += outcome.gone.len();
    crate::outbound::remove_gone(&**c.store, &outcome.gone).await;
    let attempted = total - outcome.not_attempted.len();
    let mut again: Vec<String> = outcome.not_attempted;
    for (id, err) in outcome.failed {
        if retryable(&err) || matches!(err, SendError::Deadline { .. }) {
            again.push(id);
        } else {
            // 403, 413: no retry will do better.
            tracing::warn!(connection_id = %id, error = %err, "a fan-out send failed for good");
            tally.dropped += 1;
            tally.undelivered += 1;
        }
    }
    if again.is_empty() {
        return true;
    }
    if again.len() == total && attempted > 0 {
        // Every attempt failed: SQS delivers the record again after its visibility timeout,
        // which counts towards its dead-letter limit. (A record the batch's time did not reach
        // at all is queued again below instead: its expiry bounds how long that can go on.)
        return false;
    }
    let count = again.len();
    let records = task.chunks(
        again,
        c.fanout.config.ids_per_record,
        &format!("{}~", task.key),
    );
    match c.fanout.enqueue(&records).await {
        Ok(()) => {
            tally.requeued += count;
            true
        }
        Err(err) => {
            tracing::warn!(error = %err, "could not queue a record's undelivered ids");
            false
        }
    }
}
