//! Everything an event sends: `send`, `reply`, broadcasts to connections, rooms and users,
//! `disconnect` and `info` — every Management API call goes through [`Outbound`]. It holds its
//! own state (the endpoint's client, the store to forget gone connections in, the deadline,
//! the event's send counters) and knows nothing of the request that made it.
//!
//! Sends are serialised once, sent with bounded concurrency, throttled (429) and failed (5xx,
//! network) attempts retried with jittered exponential backoff within the invocation's
//! deadline, and connections API Gateway reports gone (410) removed from the store afterwards,
//! in batches (but for those opened in the last 30 s: API Gateway answers 410 while a
//! connection's `$connect` runs).
//!
//! ```no_run
//! # use lift_runtime::prelude::*;
//! # async fn demo(ctx: &WsContext) -> WsResult {
//! let report = ctx.room("lobby").broadcast(&serde_json::json!({"type": "tick"})).await?;
//! tracing::info!(sent = report.sent, gone = report.gone.len(), "tick");
//! # Ok(()) }
//! ```
//!
//! # Limits
//!
//! A message over API Gateway's 128 KB limit is refused before any network call
//! ([`SendError::TooLarge`]). (API Gateway delivers messages over 32 KB as several WebSocket
//! frames; clients reassemble them, so the 128 KB message limit is the one that matters.)

#[cfg(any(feature = "lambda", feature = "local"))]
mod http;
mod management;
mod numbered;
mod pace;
mod presence;
mod room;
mod send;
#[cfg(any(feature = "lambda", feature = "local"))]
mod tls;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

#[cfg(any(feature = "lambda", feature = "local"))]
pub(crate) use http::{HttpManagement, HttpShared};
pub(crate) use management::MAX_MESSAGE_SIZE;
pub(crate) use management::{ClientFactory, Clients, Endpoint};
pub use management::{ConnectionInfo, ManagementApi};
pub(crate) use pace::Pacer;
pub use room::{Room, User};
pub use send::BroadcastReport;
pub(crate) use send::{retryable, send_many, send_one, BroadcastSettings, Outcome};
#[cfg(all(
    any(feature = "lambda", feature = "local"),
    any(feature = "otlp", feature = "jwt")
))]
pub(crate) use tls::LazyTls;

use crate::error::SendError;
use crate::store::ConnectionStore;

/// The Management API side of one event: every send, reply, broadcast, disconnect and info
/// call of the event goes through it. Handlers reach it through
/// [`WsContext`](crate::WsContext) (`ctx.send`, `ctx.room(..)`, ...).
pub(crate) struct Outbound {
    api: Arc<dyn ManagementApi>,
    store: Arc<dyn ConnectionStore>,
    config: Arc<BroadcastSettings>,
    deadline: Instant,
    caller: String,
    /// The caller's connection is being opened (`$connect`): API Gateway answers 410 to sends
    /// to it, and it is not in the store to be forgotten.
    caller_opening: bool,
    sends: SendCounters,
    /// Where a big room's broadcast hands its members off, when the app has a queue.
    fanout: Option<Arc<crate::fanout::Fanout>>,
    /// How long room broadcasts are kept for replay, when the app has history.
    history: Option<std::time::Duration>,
    /// Whether the app keeps presence ([`Settings::presence`](crate::Settings::presence)).
    presence: bool,
}

/// What the sends of one event did, counted as they finish.
#[derive(Default)]
struct SendCounters {
    delivered: AtomicUsize,
    gone: AtomicUsize,
    undelivered: AtomicUsize,
    queued: AtomicUsize,
}

/// The Management API sends of one event so far: every `send`, `reply` and broadcast,
/// connection by connection (what [`observe::Metrics`](crate::observe::Metrics) reports).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SendTotals {
    /// Messages delivered.
    pub(crate) delivered: usize,
    /// Connections found gone (410).
    pub(crate) gone: usize,
    /// Messages not delivered: failed after the retries, or not attempted before the deadline.
    pub(crate) undelivered: usize,
    /// Members a room broadcast handed to the fan-out queue (sent by other invocations).
    pub(crate) queued: usize,
}

impl Outbound {
    /// The sends of one event from `caller`, through `api`, until `deadline` (or the configured
    /// budget from now); connections found gone are removed from `store`.
    pub(crate) fn new(
        api: Arc<dyn ManagementApi>,
        store: Arc<dyn ConnectionStore>,
        config: Arc<BroadcastSettings>,
        deadline: Option<Instant>,
        caller: String,
        caller_opening: bool,
        fanout: Option<Arc<crate::fanout::Fanout>>,
    ) -> Self {
        let deadline = deadline.unwrap_or_else(|| Instant::now() + config.default_budget);
        Outbound {
            api,
            store,
            config,
            deadline,
            caller,
            caller_opening,
            sends: SendCounters::default(),
            fanout,
            history: None,
            presence: false,
        }
    }

    /// Keeps presence, and tells rooms who joins and leaves.
    pub(crate) fn with_presence(mut self, presence: bool) -> Self {
        self.presence = presence;
        self
    }

    /// Numbers room broadcasts and keeps them for `keep` ([`Settings::history`]).
    ///
    /// [`Settings::history`]: crate::Settings::history
    pub(crate) fn with_history(mut self, keep: Option<std::time::Duration>) -> Self {
        self.history = keep;
        self
    }

    /// When sends should stop: the deadline less the headroom.
    pub(crate) fn cutoff(&self) -> Instant {
        self.config.cutoff(self.deadline)
    }

    /// The caller's connection id.
    pub(crate) fn caller(&self) -> &str {
        &self.caller
    }

    /// What this event's sends did so far.
    pub(crate) fn totals(&self) -> SendTotals {
        SendTotals {
            delivered: self.sends.delivered.load(Ordering::Relaxed),
            gone: self.sends.gone.load(Ordering::Relaxed),
            undelivered: self.sends.undelivered.load(Ordering::Relaxed),
            queued: self.sends.queued.load(Ordering::Relaxed),
        }
    }

    fn count(&self, delivered: usize, gone: usize, undelivered: usize) {
        self.sends.delivered.fetch_add(delivered, Ordering::Relaxed);
        self.sends.gone.fetch_add(gone, Ordering::Relaxed);
        self.sends
            .undelivered
            .fetch_add(undelivered, Ordering::Relaxed);
    }

    /// Sends `message`, serialised as JSON, to a connection (see
    /// [`WsContext::send`](crate::WsContext::send)).
    pub(crate) async fn send<T: Serialize + ?Sized>(
        &self,
        connection_id: &str,
        message: &T,
    ) -> Result<(), SendError> {
        let data = self.serialise(message)?;
        self.send_shared(connection_id, &data).await
    }

    /// Sends `message`, serialised as JSON, to the caller.
    pub(crate) async fn reply<T: Serialize + ?Sized>(&self, message: &T) -> Result<(), SendError> {
        let data = self.serialise(message)?;
        self.send_shared(&self.caller, &data).await
    }

    /// Sends these bytes as they are (a text frame when they are UTF-8) to a connection.
    pub(crate) async fn send_raw(&self, connection_id: &str, data: &[u8]) -> Result<(), SendError> {
        self.send_shared(connection_id, &bytes::Bytes::copy_from_slice(data))
            .await
    }

    async fn send_shared(&self, connection_id: &str, data: &bytes::Bytes) -> Result<(), SendError> {
        if data.len() > MAX_MESSAGE_SIZE {
            return Err(SendError::TooLarge {
                size: data.len(),
                limit: MAX_MESSAGE_SIZE,
            });
        }
        let outcome = send_one(
            &*self.api,
            connection_id,
            data,
            self.deadline,
            &self.config,
            None,
        )
        .await;
        match &outcome {
            Outcome::Sent => self.count(1, 0, 0),
            Outcome::Gone => self.count(0, 1, 0),
            Outcome::Failed(_) | Outcome::NotAttempted => self.count(0, 0, 1),
        }
        match outcome {
            Outcome::Sent => Ok(()),
            Outcome::Gone if self.caller_opening && connection_id == self.caller => {
                // Not stored yet, so nothing to forget.
                tracing::warn!(
                    connection_id,
                    "a send to the connection being opened: API Gateway delivers nothing to a \
                     connection before its $connect handler has returned (410); send from a \
                     later event, e.g. when the client asks"
                );
                Err(SendError::Gone {
                    connection_id: connection_id.to_owned(),
                })
            }
            Outcome::Gone => {
                self.forget(&[connection_id.to_owned()]).await;
                Err(SendError::Gone {
                    connection_id: connection_id.to_owned(),
                })
            }
            Outcome::Failed(err) => Err(err),
            Outcome::NotAttempted => Err(SendError::Deadline {
                endpoint: self.api.endpoint().to_owned(),
            }),
        }
    }

    /// Sends `message`, serialised once, to every connection in `connection_ids` (see
    /// [`WsContext::broadcast`](crate::WsContext::broadcast)).
    pub(crate) fn broadcast<I, S, T>(
        &self,
        connection_ids: I,
        message: &T,
    ) -> impl Future<Output = Result<BroadcastReport, SendError>> + Send + '_
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
        T: Serialize + ?Sized,
    {
        // Everything borrowed from the arguments is taken now, so the future holds only owned
        // data (and stays `Send` whatever iterator the caller passed).
        let ids: Vec<String> = connection_ids
            .into_iter()
            .map(|id| id.as_ref().to_owned())
            .collect();
        let data = self.serialise(message);
        async move {
            let data = data?;
            let started = Instant::now();
            let report = send_many(&*self.api, ids, &data, self.deadline, &self.config).await?;
            self.settle(&report, started, None).await;
            Ok(report)
        }
    }

    /// Closes a connection (its `$disconnect` follows).
    pub(crate) async fn disconnect(&self, connection_id: &str) -> Result<(), SendError> {
        self.api.delete(connection_id).await
    }

    /// What API Gateway knows of a connection.
    pub(crate) async fn info(&self, connection_id: &str) -> Result<ConnectionInfo, SendError> {
        self.api.info(connection_id).await
    }

    fn serialise<T: Serialize + ?Sized>(&self, message: &T) -> Result<bytes::Bytes, SendError> {
        serde_json::to_vec(message)
            .map(bytes::Bytes::from)
            .map_err(|err| SendError::Failed {
                endpoint: self.api.endpoint().to_owned(),
                message: format!("the message could not be serialised: {err}"),
            })
    }

    /// After a broadcast: counts it, removes the connections found gone and logs what happened
    /// (at `debug` when every connection was reached or gone, at `warn` otherwise); answers the
    /// connections removed.
    async fn settle(
        &self,
        report: &BroadcastReport,
        started: Instant,
        room: Option<&str>,
    ) -> Vec<String> {
        let (sent, gone, failed, not_attempted) = (
            report.sent,
            report.gone.len(),
            report.failed.len(),
            report.not_attempted.len(),
        );
        self.count(sent, gone, failed + not_attempted);
        self.sends
            .queued
            .fetch_add(report.queued, Ordering::Relaxed);
        let removed = self.forget(&report.gone).await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let (queued, queued_rest) = (report.queued, report.queued_rest);
        if failed == 0 && not_attempted == 0 && !report.unread {
            tracing::debug!(
                room,
                sent,
                gone,
                queued,
                queued_rest,
                elapsed_ms,
                "broadcast"
            );
        } else {
            let first_failure = report.failed.first().map(|(_, err)| err.to_string());
            tracing::warn!(
                room,
                sent,
                gone,
                failed,
                not_attempted,
                unread = report.unread,
                first_failure,
                elapsed_ms,
                "broadcast did not reach every connection"
            );
        }
        removed
    }

    /// Removes connections API Gateway reported gone, with their memberships; answers those
    /// removed.
    async fn forget(&self, gone: &[String]) -> Vec<String> {
        remove_gone(&*self.store, gone).await
    }
}

/// How long after it opened a connection may still be in its `$connect`. API Gateway answers
/// 410 to a post to a connection whose `$connect` has not returned yet (up to its integration
/// timeout, 29 s), so a broadcast from another invocation in that window finds it "gone": its
/// record is kept. A connection that really is gone that young is removed by its own
/// `$disconnect`, or by a later send past this age, or by its record's expiry.
pub(crate) const CONNECTING_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// Removes connections a send found gone (410), with their memberships, except those opened in
/// the last [`CONNECTING_GRACE`]; answers those removed (none when the store failed, which is
/// logged).
pub(crate) async fn remove_gone(store: &dyn ConnectionStore, gone: &[String]) -> Vec<String> {
    if gone.is_empty() {
        return Vec::new();
    }
    let now = std::time::SystemTime::now();
    let young = |connected_at: std::time::SystemTime| {
        now.duration_since(connected_at)
            .map_or(true, |age| age < CONNECTING_GRACE)
    };
    // One read per gone connection (410s are rare: once per connection that closed without
    // its `$disconnect` reaching the app), 16 at a time.
    let (mut kept, mut remove) = (Vec::new(), Vec::new());
    for chunk in gone.chunks(16) {
        let reads = futures_util::future::join_all(chunk.iter().map(|id| store.get(id))).await;
        for (id, read) in chunk.iter().zip(reads) {
            match read {
                Ok(Some(connection)) if young(connection.connected_at) => kept.push(id),
                _ => remove.push(id.clone()),
            }
        }
    }
    if !kept.is_empty() {
        tracing::debug!(
            count = kept.len(),
            "kept connections found gone within their first 30 s (their $connect may not have returned)"
        );
    }
    if remove.is_empty() {
        return Vec::new();
    }
    match store.remove_many(&remove).await {
        Ok(()) => {
            tracing::debug!(count = remove.len(), "removed gone connections");
            remove
        }
        Err(err) => {
            tracing::warn!(error = %err, count = remove.len(), "could not remove gone connections");
            Vec::new()
        }
    }
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("endpoint", &self.api.endpoint())
            .field("caller", &self.caller)
            .finish_non_exhaustive()
    }
}

/// A store failure while finding whom to send to.
fn store_failure(err: crate::error::StoreError) -> SendError {
    SendError::Store {
        message: err.to_string(),
    }
}
