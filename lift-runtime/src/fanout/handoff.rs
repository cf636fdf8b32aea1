//! A room broadcast with a fan-out queue: send to the first members directly, queue the rest.

use std::time::{Instant, SystemTime};

use super::{epoch_ms, read_members, Fanout, Target, Task};
use crate::error::SendError;
use crate::outbound::{retryable, send_many, BroadcastReport, BroadcastSettings, ManagementApi};
use crate::store::ConnectionStore;

/// What a room broadcast hands over.
pub(crate) struct Handoff<'a> {
    pub(crate) api: &'a dyn ManagementApi,
    pub(crate) store: &'a dyn ConnectionStore,
    pub(crate) config: &'a BroadcastSettings,
    pub(crate) deadline: Instant,
    pub(crate) fanout: &'a Fanout,
    pub(crate) room: &'a str,
    pub(crate) except: Option<&'a str>,
    /// The message, serialised (JSON, so UTF-8).
    pub(crate) data: &'a bytes::Bytes,
}

/// Most members read per store request while deciding.
const READ_PAGE: usize = 1_000;

/// Reads the room's members up to the direct limit (one more tells whether the room is
/// bigger), queues what is past the limit, then sends to the rest directly; members the direct
/// sends do not reach (the deadline came, or 429s and 5xx outlasted the retries) are queued too. Does not touch the store's records:
/// the caller removes the connections found gone.
pub(crate) async fn broadcast(h: Handoff<'_>) -> Result<BroadcastReport, SendError> {
    let text = match std::str::from_utf8(h.data) {
        Ok(text) if Task::fits(text) => text,
        // Not JSON text, or too big for a record once escaped: no hand-off.
        _ => return direct_only(&h).await,
    };
    let limit = h.fanout.config.direct_limit(h.config.cutoff(h.deadline));
    // One more than the limit tells whether the room is bigger.
    let (mut members, cursor) = read_members(
        h.store,
        h.room,
        h.except,
        None,
        limit.saturating_add(1),
        READ_PAGE,
    )
    .await
    .map_err(store_failure)?;
    let end = cursor.is_none();
    let id = crate::ids::request_id();
    let task = Task {
        key: id.clone(),
        endpoint: h.api.endpoint().to_owned(),
        room: h.room.to_owned(),
        expires_at_ms: epoch_ms(SystemTime::now() + h.fanout.config.expiry),
        data: text.to_owned(),
        to: Target::Rest {
            cursor: cursor.clone(),
            except: h.except.map(str::to_owned),
        },
        origin: origin(),
    };
    let mut queued = Vec::new();
    let mut queued_rest = false;
    if members.len() > limit || !end {
        let past = members.split_off(limit.min(members.len()));
        queued = past.clone();
        let mut records = Vec::new();
        if !end {
            // First, so the room's expansion starts before these members are sent.
            let mut rest = task.clone();
            rest.key = format!("{id}.r0");
            records.push(rest);
            queued_rest = true;
        }
        records.extend(task.chunks(past, h.fanout.config.ids_per_record, &id));
        if let Err(err) = h.fanout.enqueue(&records).await {
            // Nothing is lost quietly: the members read are reported failed, the rest unread.
            tracing::error!(room = h.room, error = %err, "could not queue a broadcast's fan-out");
            let mut report = send_many(h.api, members, h.data, h.deadline, h.config).await?;
            let failure = SendError::Failed {
                endpoint: h.api.endpoint().to_owned(),
                message: format!("the fan-out queue refused the records: {err}"),
            };
            report
                .failed
                .extend(queued.into_iter().map(|id| (id, failure.clone())));
            report.unread = !end;
            return Ok(report);
        }
    }
    let mut report = send_many(h.api, members, h.data, h.deadline, h.config).await?;
    report.queued = queued.len();
    report.queued_rest = queued_rest;
    // What the direct sends could not do in time, or were throttled or failed on past their
    // retries, goes to the queue too: other invocations try again later.
    let mut late = std::mem::take(&mut report.not_attempted);
    let (retry, failed): (Vec<_>, Vec<_>) = std::mem::take(&mut report.failed)
        .into_iter()
        .partition(|(_, err)| retryable(err) || matches!(err, SendError::Deadline { .. }));
    report.failed = failed;
    let mut retried: Vec<(String, SendError)> = Vec::new();
    for (id, err) in retry {
        late.push(id.clone());
        retried.push((id, err));
    }
    if !late.is_empty() {
        let prefix = format!("{id}.late");
        let records = task.chunks(late.clone(), h.fanout.config.ids_per_record, &prefix);
        match h.fanout.enqueue(&records).await {
            Ok(()) => report.queued += late.len(),
            Err(err) => {
                tracing::error!(room = h.room, error = %err, "could not queue the members the direct sends missed");
                let missed: std::collections::HashSet<&String> =
                    retried.iter().map(|(id, _)| id).collect();
                report.not_attempted = late
                    .iter()
                    .filter(|id| !missed.contains(id))
                    .cloned()
                    .collect();
                report.failed.extend(retried);
            }
        }
    }
    Ok(report)
}

/// Where the records come from: this invocation, and the current span when spans are exported
/// (so the consumers' spans join its trace).
fn origin() -> Option<crate::trace::Origin> {
    #[allow(unused_mut)]
    let mut origin = crate::trace::current()?;
    #[cfg(feature = "otlp")]
    {
        origin.traceparent = crate::observe::otlp::traceparent();
    }
    Some(origin)
}

/// The broadcast without hand-off: every member read and sent to in this invocation (the
/// message cannot travel in a record).
async fn direct_only(h: &Handoff<'_>) -> Result<BroadcastReport, SendError> {
    tracing::warn!(
        room = h.room,
        size = h.data.len(),
        "a message too big to queue is broadcast by this invocation alone"
    );
    let (members, _) = read_members(h.store, h.room, h.except, None, usize::MAX, READ_PAGE)
        .await
        .map_err(store_failure)?;
    send_many(h.api, members, h.data, h.deadline, h.config).await
}

fn store_failure(err: crate::error::StoreError) -> SendError {
    SendError::Store {
        message: err.to_string(),
    }
}
