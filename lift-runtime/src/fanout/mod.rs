//! Fan-out: rooms past one invocation, through a queue and more invocations of the same
//! function, with the same `ctx.room("lobby").broadcast(&msg)` call.
//!
//! One invocation sends on the order of 10,000 messages a second per vCPU, and API Gateway ends
//! a route's integration after 29 s. A room of 100,000 members cannot be reached from the
//! invocation that received the message; SQS feeding Lambda can.
//!
//! # When it kicks in
//!
//! With a queue configured (in Lambda: `LIFT_FANOUT_QUEUE_URL`, which the generated SAM
//! template sets; in the emulator: always, an in-process queue unless `LIFT_FANOUT_QUEUE_URL`
//! and `AWS_ENDPOINT_URL_SQS` name a real one), a room broadcast reads the room's members up
//! to [`FanoutSettings::threshold`] (`LIFT_FANOUT_THRESHOLD`, default 2,000), fewer when the
//! invocation's remaining time could not cover them at [`FanoutSettings::invocation_rate`]:
//!
//! - a room that fits is sent to directly, as without fan-out;
//! - a bigger room: the message is serialised once, the members past the limit that were
//!   already read are queued as lists of connection ids, the rest of the room as a cursor into
//!   it, and then the members within the limit are sent to directly. The
//!   [`BroadcastReport`](crate::outbound::BroadcastReport) says what was sent now
//!   (`sent`, `gone`, ...) and what was queued (`queued`, `queued_rest`).
//!
//! Members a direct send could not reach before the deadline are queued too, rather than
//! reported `not_attempted`.
//!
//! # The consumers
//!
//! The same function handles the queue's SQS events (told apart from API Gateway's by their
//! shape; [`Service`](crate::Service)). A record of connection ids is
//! sent with the bounded-concurrency sender (retries, 410 clean-up, the deadline), paced to
//! [`FanoutSettings::rate`] ÷ [`FanoutSettings::consumers`] a second. A cursor record reads
//! [`FanoutSettings::expand_per_record`] members on from the cursor and queues them as id records,
//! plus a cursor record for the rest. What a record could not deliver is queued again as a
//! record of only those ids, so a retry never reaches a connection twice; a record that made no
//! progress at all is reported in the batch response's `batchItemFailures`, so SQS redelivers
//! it and, after `maxReceiveCount`, moves it to the dead-letter queue. Records past their
//! expiry ([`FanoutSettings::expiry`], default 5 minutes: a chat message an hour late is noise)
//! are dropped and counted.
//!
//! # Costs, ordering, delivery
//!
//! - SQS requests per 1,000 members past the threshold: 2 records of 500 ids, each sent,
//!   received and deleted in batches of 10 — about 0.6 requests — plus one record per
//!   [`FanoutSettings::expand_per_record`] members for the cursor. At SQS's price per million
//!   requests, a million members cost a few hundred requests.
//! - Ordering: none across records. Two broadcasts to a big room may arrive in either order at
//!   a member reached through the queue; put a sequence number in the message if it matters.
//! - Delivery is at least once: a consumer that dies mid-record (its Lambda killed, a
//!   re-enqueue refused) has its record redelivered whole. Each record carries a key; a
//!   process skips a record whose key it has already completed, which catches SQS's own
//!   duplicate deliveries to a warm function, not every one.
//!
//! # Sizing the rate budget
//!
//! API Gateway throttles the account (10,000 messages a second by default), not the
//! invocation. [`FanoutSettings::rate`] (`LIFT_FANOUT_RATE`) is the budget for fan-out's sends,
//! split evenly across [`FanoutSettings::consumers`] (`LIFT_FANOUT_CONSUMERS`: the event source
//! mapping's maximum concurrency, set from the same value in the template). Leave room for the
//! direct sends of ordinary events: with the default throttle, a rate of 8,000 keeps 2,000 a
//! second for them. A 429 still happens (other functions, bursts) and is retried with backoff.

mod consume;
mod handoff;
mod queue;
#[cfg(feature = "sqs")]
mod sqs;

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use serde::{Deserialize, Serialize};

pub(crate) use consume::{consume, Consumer};
pub(crate) use handoff::{broadcast, Handoff};
pub use queue::{Deliver, FanoutQueue, LocalQueue, LocalQueueConfig};
#[cfg(feature = "sqs")]
pub use sqs::SqsQueue;

/// SQS's largest message (256 KiB); records are kept under it.
pub(crate) const MAX_RECORD_SIZE: usize = 256 * 1024;

pub(crate) use crate::settings::FanoutSettings;

impl FanoutSettings {
    /// Members a broadcast may send to directly when its sends must stop at `cutoff`.
    pub(crate) fn direct_limit(&self, cutoff: Instant) -> usize {
        let left = cutoff
            .saturating_duration_since(Instant::now())
            .as_secs_f64();
        let coverable = (left * f64::from(self.invocation_rate)) as usize;
        self.threshold.min(coverable)
    }

    /// Sends a second for one consumer.
    pub(crate) fn consumer_rate(&self) -> f64 {
        f64::from(self.rate.max(1)) / f64::from(self.consumers.max(1))
    }
}

/// Fan-out as a service runs it: the settings, the queue, and the keys of records completed
/// lately (to skip SQS's duplicate deliveries).
pub(crate) struct Fanout {
    pub(crate) config: FanoutSettings,
    pub(crate) queue: Arc<dyn FanoutQueue>,
    done: Mutex<RecentKeys>,
}

impl Fanout {
    pub(crate) fn new(config: FanoutSettings, queue: Arc<dyn FanoutQueue>) -> Self {
        Fanout {
            config,
            queue,
            done: Mutex::new(RecentKeys::default()),
        }
    }

    /// Whether a record with this key was completed lately in this process.
    pub(crate) fn is_done(&self, key: &str) -> bool {
        self.done
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .set
            .contains(key)
    }

    /// Notes that the record with this key was completed.
    pub(crate) fn mark_done(&self, key: &str) {
        self.done
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_owned());
    }

    /// Queues `tasks`, each as one record.
    pub(crate) async fn enqueue(&self, tasks: &[Task]) -> Result<(), crate::Error> {
        if tasks.is_empty() {
            return Ok(());
        }
        let bodies = tasks
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<Vec<_>, _>>()?;
        self.queue.enqueue(bodies).await
    }
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fanout")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The last keys completed, at most `LIMIT`.
#[derive(Default)]
struct RecentKeys {
    set: HashSet<String>,
    order: VecDeque<String>,
}

impl RecentKeys {
    const LIMIT: usize = 20_000;

    fn insert(&mut self, key: String) {
        if self.set.insert(key.clone()) {
            self.order.push_back(key);
        }
        while self.order.len() > Self::LIMIT {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }
}

/// One queued record: a message for some of a room's members.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Task {
    /// Which broadcast and which part of it: a record with a key already completed is skipped.
    pub(crate) key: String,
    /// The Management API endpoint to send through.
    pub(crate) endpoint: String,
    /// The room, for the logs.
    pub(crate) room: String,
    /// Milliseconds since the epoch after which the record is dropped.
    pub(crate) expires_at_ms: u64,
    /// The message, serialised once by the broadcast.
    pub(crate) data: String,
    /// Whom to send to.
    pub(crate) to: Target,
    /// The invocation whose broadcast queued it (request and trace ids), which the consumer's
    /// logs name; absent in records queued before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) origin: Option<crate::trace::Origin>,
}

/// Whom a record is for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Target {
    /// These connections.
    Ids(Vec<String>),
    /// The room's members after `cursor` (from the first when `None`), but `except`.
    Rest {
        cursor: Option<String>,
        except: Option<String>,
    },
}

impl Task {
    /// Whether the record's expiry has passed at `now`.
    pub(crate) fn is_expired(&self, now: SystemTime) -> bool {
        epoch_ms(now) >= self.expires_at_ms
    }

    /// Records of `ids` for this task's message, each under [`MAX_RECORD_SIZE`] and holding at
    /// most `per_record` ids, keyed `{prefix}.{n}`.
    pub(crate) fn chunks(&self, ids: Vec<String>, per_record: usize, prefix: &str) -> Vec<Task> {
        let mut shell = self.clone();
        shell.to = Target::Ids(Vec::new());
        shell.key = format!("{prefix}.000000");
        let base = serde_json::to_string(&shell).map_or(0, |s| s.len());
        let room = MAX_RECORD_SIZE.saturating_sub(base + 1024);
        let mut records = Vec::new();
        let mut batch = Vec::new();
        let mut size = 0;
        for id in ids {
            let cost = id.len() + 3;
            if !batch.is_empty() && (batch.len() >= per_record.max(1) || size + cost > room) {
                records.push(std::mem::take(&mut batch));
                size = 0;
            }
            size += cost;
            batch.push(id);
        }
        if !batch.is_empty() {
            records.push(batch);
        }
        records
            .into_iter()
            .enumerate()
            .map(|(n, ids)| Task {
                key: format!("{prefix}.{n}"),
                to: Target::Ids(ids),
                ..self.clone()
            })
            .collect()
    }

    /// The connection ids the record carries (0 for a cursor record).
    pub(crate) fn ids(&self) -> usize {
        match &self.to {
            Target::Ids(ids) => ids.len(),
            Target::Rest { .. } => 0,
        }
    }

    /// Whether a record carrying this message can be queued at all.
    pub(crate) fn fits(data: &str) -> bool {
        // JSON escaping may double the message; ids need a little room too.
        serde_json::to_string(data).is_ok_and(|s| s.len() + 2048 < MAX_RECORD_SIZE)
    }
}

/// A room's members after `cursor`, `except` left out, read `page` at a time until at least
/// `until` are read or the room ends: their ids, and the cursor after them (`None` when the
/// room ended).
pub(crate) async fn read_members(
    store: &dyn crate::store::ConnectionStore,
    room: &str,
    except: Option<&str>,
    mut cursor: Option<String>,
    until: usize,
    page: usize,
) -> Result<(Vec<String>, Option<String>), crate::error::StoreError> {
    let mut ids = Vec::new();
    while ids.len() < until {
        let want = (until - ids.len()).clamp(1, page.max(1));
        let read = store.member_page(room, cursor.as_deref(), want).await?;
        ids.extend(
            read.members
                .into_iter()
                .map(|member| member.connection_id)
                .filter(|id| Some(id.as_str()) != except),
        );
        cursor = read.next;
        if cursor.is_none() {
            break;
        }
    }
    Ok((ids, cursor))
}

/// Milliseconds since the epoch.
pub(crate) fn epoch_ms(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> Task {
        Task {
            key: "b1".into(),
            endpoint: "https://example/prod".into(),
            room: "lobby".into(),
            expires_at_ms: 10,
            data: "\"hi\"".into(),
            to: Target::Rest {
                cursor: None,
                except: None,
            },
            origin: None,
        }
    }

    #[test]
    fn ids_are_split_into_records_under_the_limits() {
        let ids: Vec<String> = (0..1234).map(|n| format!("conn-{n:08}")).collect();
        let records = task().chunks(ids.clone(), 500, "b1");
        assert_eq!(records.len(), 3);
        let mut back = Vec::new();
        for record in &records {
            assert!(serde_json::to_string(record).unwrap().len() < MAX_RECORD_SIZE);
            match &record.to {
                Target::Ids(ids) => back.extend(ids.clone()),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(back, ids);
        assert_eq!(records[2].key, "b1.2");

        // A big message leaves room for fewer ids per record.
        let mut big = task();
        big.data = "x".repeat(250 * 1024);
        let records = big.chunks(ids, 500, "b1");
        assert!(records.len() > 3);
        for record in &records {
            assert!(serde_json::to_string(record).unwrap().len() < MAX_RECORD_SIZE);
        }
    }

    #[test]
    fn records_round_trip_as_json() {
        let record = task();
        let json = serde_json::to_string(&record).unwrap();
        assert_eq!(serde_json::from_str::<Task>(&json).unwrap(), record);
        assert!(record.is_expired(SystemTime::now()));
        assert!(Task::fits("\"short\""));
        assert!(!Task::fits(&"\"".repeat(130 * 1024)));
    }

    #[test]
    fn recent_keys_are_bounded() {
        let mut keys = RecentKeys::default();
        for n in 0..RecentKeys::LIMIT + 10 {
            keys.insert(n.to_string());
        }
        assert_eq!(keys.set.len(), RecentKeys::LIMIT);
        assert!(!keys.set.contains("0"));
        assert!(keys.set.contains(&(RecentKeys::LIMIT + 9).to_string()));
    }
}
