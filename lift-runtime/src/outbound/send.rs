//! Sending one message to many connections: bounded concurrency, deadline-aware retries of
//! throttled (429) and failed (5xx, network) sends, and the [`BroadcastReport`]. Does not touch
//! the store: [`Outbound`](super::Outbound) removes the connections found gone.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::FuturesUnordered;
use futures_util::{Stream, StreamExt};

use super::management::{ManagementApi, MAX_MESSAGE_SIZE};
use super::pace::Pacer;
use crate::error::SendError;
use crate::retry::Backoff;

/// A post's future, as [`ManagementApi::post_shared`] makes it.
type Post<'a> = Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;

/// How broadcasts (and single sends) are paced and retried.
#[derive(Clone, Debug)]
pub struct BroadcastConfig {
    /// Sends in flight at once. Default 128: with a round trip of `r` to the Management API,
    /// one sending task delivers at most `concurrency / r` messages a second, and on this
    /// project's 2-core machine it is bound by CPU at about 20,000–27,000 a second
    /// (`BENCHMARKS.md`); with a real region's 5–20 ms round trips, 128 in flight are needed to
    /// come near that bound.
    pub concurrency: usize,
    /// Attempts per connection, the first included. Default 6.
    pub max_attempts: u32,
    /// Backoff before the first retry; doubled each time, with full jitter. Default 25 ms.
    pub base_backoff: Duration,
    /// Largest backoff. Default 1 s.
    pub max_backoff: Duration,
    /// Time kept free before the deadline for the handler to return. Default 250 ms.
    pub headroom: Duration,
    /// The deadline of a send when the event has none (outside Lambda and the emulator).
    /// Default 10 s.
    pub default_budget: Duration,
}

impl BroadcastConfig {
    /// When sends must stop for an invocation ending at `deadline`: the headroom before it.
    pub(crate) fn cutoff(&self, deadline: Instant) -> Instant {
        deadline.checked_sub(self.headroom).unwrap_or(deadline)
    }

    /// The retry policy of one send.
    fn backoff(&self) -> Backoff {
        Backoff {
            max_attempts: self.max_attempts,
            base: self.base_backoff,
            max: self.max_backoff,
        }
    }
}

impl Default for BroadcastConfig {
    fn default() -> Self {
        BroadcastConfig {
            concurrency: 128,
            max_attempts: 6,
            base_backoff: Duration::from_millis(25),
            max_backoff: Duration::from_secs(1),
            headroom: Duration::from_millis(250),
            default_budget: Duration::from_secs(10),
        }
    }
}

/// What a broadcast did, connection by connection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BroadcastReport {
    /// Connections the message was delivered to.
    pub sent: usize,
    /// Connections API Gateway reported gone (410); they were removed from the store.
    pub gone: Vec<String>,
    /// Connections the message could not be delivered to, and why (after the retries).
    pub failed: Vec<(String, SendError)>,
    /// Connections not tried because the deadline came first.
    pub not_attempted: Vec<String>,
    /// A room broadcast stopped reading the room's members because the deadline came (no store
    /// request is made past it): the room may have members this report does not list.
    pub unread: bool,
    /// Members handed to the fan-out queue by connection id, to be sent by other invocations
    /// (see [`fanout`](crate::fanout)); not counted in `sent`.
    pub queued: usize,
    /// The room's members past those this invocation read were handed to the fan-out queue
    /// (as a cursor into the room): their number is not known here.
    pub queued_rest: bool,
}

impl BroadcastReport {
    /// Connections the broadcast was about (the members it read, for a room), the queued ones
    /// included.
    pub fn total(&self) -> usize {
        self.sent + self.gone.len() + self.failed.len() + self.not_attempted.len() + self.queued
    }
}

/// The outcome of one connection's send.
pub(crate) enum Outcome {
    Sent,
    Gone,
    Failed(SendError),
    NotAttempted,
}

/// Whether a failed send may succeed if tried again.
pub(crate) fn retryable(err: &SendError) -> bool {
    matches!(
        err,
        SendError::Throttled { .. } | SendError::ServerError { .. } | SendError::Failed { .. }
    )
}

/// Sends `data` to one connection, retrying what can be retried, never past `deadline` minus
/// the headroom; each attempt waits for its slot of `pacer` first, when there is one.
pub(crate) async fn send_one(
    api: &dyn ManagementApi,
    connection_id: &str,
    data: &Bytes,
    deadline: Instant,
    config: &BroadcastConfig,
    pacer: Option<&Pacer>,
) -> Outcome {
    let cutoff = config.cutoff(deadline);
    if pacer.is_some() {
        return Box::pin(attempts(
            api,
            connection_id,
            data,
            cutoff,
            config,
            pacer,
            0,
            None,
        ))
        .await;
    }
    if Instant::now() >= cutoff {
        return Outcome::NotAttempted;
    }
    // The first attempt is made here; retries, rarer, in a boxed future of their own.
    match attempt(api, connection_id, data, cutoff).await {
        Ok(outcome) => outcome,
        Err(err) => {
            Box::pin(attempts(
                api,
                connection_id,
                data,
                cutoff,
                config,
                None,
                1,
                Some(err),
            ))
            .await
        }
    }
}

/// One post, given up at `cutoff`: `Sent` or `Gone`, or the error.
async fn attempt(
    api: &dyn ManagementApi,
    connection_id: &str,
    data: &Bytes,
    cutoff: Instant,
) -> Result<Outcome, SendError> {
    answer(api, api.post_shared(connection_id, data), cutoff).await
}

/// What a post answered, waited for until `cutoff`: `Sent` or `Gone`, or the error. A post
/// answered when first polled (an in-process Management API) needs no timer; one that waits
/// gets one.
async fn answer(
    api: &dyn ManagementApi,
    mut post: Post<'_>,
    cutoff: Instant,
) -> Result<Outcome, SendError> {
    let first = std::future::poll_fn(|cx| Poll::Ready(post.as_mut().poll(cx))).await;
    let result = match first {
        Poll::Ready(result) => result,
        Poll::Pending => tokio::time::timeout_at(cutoff.into(), post)
            .await
            .unwrap_or_else(|_| {
                Err(SendError::Deadline {
                    endpoint: api.endpoint().to_owned(),
                })
            }),
    };
    match result {
        Ok(()) => Ok(Outcome::Sent),
        Err(SendError::Gone { .. }) => Ok(Outcome::Gone),
        Err(err) => Err(err),
    }
}

/// Attempts after the first `done` ones, the last of which failed with `last` (each paced by
/// `pacer` when there is one), until one succeeds, the error cannot be retried, the attempts run
/// out or a pause would pass `cutoff`.
#[allow(clippy::too_many_arguments)]
async fn attempts(
    api: &dyn ManagementApi,
    connection_id: &str,
    data: &Bytes,
    cutoff: Instant,
    config: &BroadcastConfig,
    pacer: Option<&Pacer>,
    mut done: u32,
    mut last: Option<SendError>,
) -> Outcome {
    loop {
        if let Some(err) = last.take() {
            let pause = match config.backoff().pause(done, Some(cutoff)) {
                Some(pause) if retryable(&err) => pause,
                _ => return Outcome::Failed(err),
            };
            tracing::debug!(connection_id, attempt = done, error = %err, ?pause, "retrying a send");
            tokio::time::sleep(pause).await;
        }
        if let Some(pacer) = pacer {
            if !pacer.wait(cutoff).await {
                return give_up(api, done);
            }
        }
        if Instant::now() >= cutoff {
            return give_up(api, done);
        }
        done += 1;
        match attempt(api, connection_id, data, cutoff).await {
            Ok(outcome) => return outcome,
            Err(err) => last = Some(err),
        }
    }
}

/// The outcome of a send the cutoff stopped after `attempts` attempts.
fn give_up(api: &dyn ManagementApi, attempts: u32) -> Outcome {
    if attempts == 0 {
        Outcome::NotAttempted
    } else {
        Outcome::Failed(SendError::Deadline {
            endpoint: api.endpoint().to_owned(),
        })
    }
}

/// Sends `data` to every id with bounded concurrency. Does not touch the store.
pub(crate) async fn send_many(
    api: &dyn ManagementApi,
    ids: Vec<String>,
    data: &Bytes,
    deadline: Instant,
    config: &BroadcastConfig,
) -> Result<BroadcastReport, SendError> {
    let pages = futures_util::stream::iter([Ok(ids)]);
    let (report, failure) = send_stream(api, pages, data, deadline, config).await?;
    match failure {
        Some(err) => Err(err),
        None => Ok(report),
    }
}

/// The pages of connection ids a broadcast was given, kept until it ends: each send borrows its
/// id from here, so the ids are never moved, and a send whose post completes as soon as it is
/// made (an in-process Management API) needs no future of its own.
struct Page {
    ids: Vec<String>,
    next: OnceLock<Box<Page>>,
}

impl Page {
    fn new(ids: Vec<String>) -> Self {
        Page {
            ids,
            next: OnceLock::new(),
        }
    }
}

/// Sends `data` to every id of the pages the stream yields, keeping up to `concurrency` sends
/// in flight while the stream is still being read (a room's next page of members is fetched
/// while the sends of the previous one are under way, never one page at a time). Each post is
/// made, and polled once, as its id is taken; only a post that has to wait goes into the
/// in-flight set. An `Err` from the stream (a store failure) ends the reading; it is returned
/// beside the report of what was sent, the sends already started being finished first. Does
/// not touch the store. `Err` before any send when the message is too large.
pub(crate) async fn send_stream<S>(
    api: &dyn ManagementApi,
    pages: S,
    data: &Bytes,
    deadline: Instant,
    config: &BroadcastConfig,
) -> Result<(BroadcastReport, Option<SendError>), SendError>
where
    S: Stream<Item = Result<Vec<String>, SendError>>,
{
    if data.len() > MAX_MESSAGE_SIZE {
        return Err(SendError::TooLarge {
            size: data.len(),
            limit: MAX_MESSAGE_SIZE,
        });
    }
    let limit = config.concurrency.max(1);
    let cutoff = config.cutoff(deadline);
    let mut report = BroadcastReport::default();
    let mut failure = None;
    let mut pages = std::pin::pin!(pages);
    // `false` once the stream has ended, or failed: nothing is read after its first error.
    let mut reading = true;
    // The first page is waited for here: nothing can be sent before it.
    let first = Page::new(match pages.next().await {
        Some(Ok(ids)) => ids,
        Some(Err(err)) => {
            failure = Some(err);
            reading = false;
            Vec::new()
        }
        None => {
            reading = false;
            Vec::new()
        }
    });
    // The page ids are being taken from, and how many of it were taken.
    let (mut page, mut taken) = (&first, 0);
    let mut in_flight = FuturesUnordered::new();
    // One loop instead of a chain of stream adapters (scan, map, buffer_unordered): ids are
    // taken while fewer than `limit` sends are in flight, finished sends are counted as they
    // come.
    std::future::poll_fn(|cx| loop {
        let mut progress = false;
        // One clock read for the ids taken in this pass (a pass takes at most `limit`): past
        // the cutoff, an id is not attempted.
        let late = Instant::now() >= cutoff;
        while in_flight.len() < limit {
            let Some(id) = page.ids.get(taken) else {
                if !reading {
                    break;
                }
                match pages.as_mut().poll_next(cx) {
                    Poll::Ready(Some(Ok(ids))) => {
                        let next: &Page = page;
                        page = next.next.get_or_init(|| Box::new(Page::new(ids)));
                        taken = 0;
                        continue;
                    }
                    Poll::Ready(Some(Err(err))) => {
                        failure.get_or_insert(err);
                        reading = false;
                    }
                    Poll::Ready(None) => reading = false,
                    Poll::Pending => {}
                }
                break;
            };
            taken += 1;
            progress = true;
            if late {
                report.not_attempted.push(id.clone());
                continue;
            }
            let mut post = api.post_shared(id, data);
            let first = match post.as_mut().poll(cx) {
                Poll::Ready(Ok(())) => {
                    report.sent += 1;
                    continue;
                }
                Poll::Ready(Err(SendError::Gone { .. })) => {
                    report.gone.push(id.clone());
                    continue;
                }
                Poll::Ready(Err(err)) if !retryable(&err) => {
                    report.failed.push((id.clone(), err));
                    continue;
                }
                Poll::Ready(Err(err)) => Err(err),
                Poll::Pending => Ok(post),
            };
            in_flight.push(finish(api, id, data, cutoff, config, first));
        }
        while let Poll::Ready(Some((id, outcome))) = in_flight.poll_next_unpin(cx) {
            progress = true;
            match outcome {
                Outcome::Sent => report.sent += 1,
                Outcome::Gone => report.gone.push(id.to_owned()),
                Outcome::Failed(err) => report.failed.push((id.to_owned(), err)),
                Outcome::NotAttempted => report.not_attempted.push(id.to_owned()),
            }
        }
        if !reading && page.ids.len() == taken && in_flight.is_empty() {
            return Poll::Ready(());
        }
        if !progress {
            return Poll::Pending;
        }
    })
    .await;
    Ok((report, failure))
}

/// A post made and polled once by [`send_stream`] that has to wait, or the error of one to
/// retry: waited for until `cutoff`, then retried like any send.
async fn finish<'a>(
    api: &'a dyn ManagementApi,
    id: &'a str,
    data: &'a Bytes,
    cutoff: Instant,
    config: &'a BroadcastConfig,
    first: Result<Post<'a>, SendError>,
) -> (&'a str, Outcome) {
    let err = match first {
        Ok(post) => match answer(api, post, cutoff).await {
            Ok(outcome) => return (id, outcome),
            Err(err) => err,
        },
        Err(err) => err,
    };
    let outcome = Box::pin(attempts(api, id, data, cutoff, config, None, 1, Some(err))).await;
    (id, outcome)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::outbound::ConnectionInfo;

    /// What one post of a connection answers, and whether it first has to wait.
    #[derive(Clone, Copy, Debug)]
    enum Answer {
        Ok,
        Gone,
        Throttled,
        ServerError,
        Forbidden,
    }

    /// A Management API that answers each connection's posts as scripted (`Ok` once the
    /// script runs out), some at once and some after a wait, and counts what it saw.
    #[derive(Default)]
    struct Scripted {
        scripts: Mutex<HashMap<String, Vec<(bool, Answer)>>>,
        delivered: Mutex<HashMap<String, usize>>,
        outstanding: AtomicUsize,
        most_outstanding: AtomicUsize,
    }

    #[async_trait]
    impl ManagementApi for Scripted {
        fn endpoint(&self) -> &str {
            "scripted"
        }

        async fn post(&self, connection_id: &str, _data: &[u8]) -> Result<(), SendError> {
            let now = self.outstanding.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_outstanding.fetch_max(now, Ordering::SeqCst);
            let (wait, answer) = {
                let mut scripts = self.scripts.lock().unwrap();
                let script = scripts.entry(connection_id.to_owned()).or_default();
                if script.is_empty() {
                    (false, Answer::Ok)
                } else {
                    script.remove(0)
                }
            };
            if wait {
                tokio::task::yield_now().await;
            }
            self.outstanding.fetch_sub(1, Ordering::SeqCst);
            let endpoint = "scripted".to_owned();
            match answer {
                Answer::Ok => {
                    *self
                        .delivered
                        .lock()
                        .unwrap()
                        .entry(connection_id.to_owned())
                        .or_default() += 1;
                    Ok(())
                }
                Answer::Gone => Err(SendError::Gone {
                    connection_id: connection_id.to_owned(),
                }),
                Answer::Throttled => Err(SendError::Throttled { endpoint }),
                Answer::ServerError => Err(SendError::ServerError {
                    endpoint,
                    status: 500,
                }),
                Answer::Forbidden => Err(SendError::Forbidden { endpoint }),
            }
        }

        async fn delete(&self, _connection_id: &str) -> Result<(), SendError> {
            Ok(())
        }

        async fn info(&self, _connection_id: &str) -> Result<ConnectionInfo, SendError> {
            Err(SendError::Forbidden {
                endpoint: "scripted".into(),
            })
        }
    }

    /// What the report must say of a connection whose posts answer `script`.
    fn expected(script: &[(bool, Answer)], max_attempts: usize) -> &'static str {
        for (_, answer) in script.iter().take(max_attempts) {
            match answer {
                Answer::Ok => return "sent",
                Answer::Gone => return "gone",
                Answer::Forbidden => return "failed",
                Answer::Throttled | Answer::ServerError => {}
            }
        }
        if script.len() >= max_attempts {
            "failed"
        } else {
            "sent"
        }
    }

    /// Random pages of connections with random scripts, some pages failing to be read, sent with
    /// random concurrency: every id of the pages read is in the report exactly once, as its
    /// script says; nothing is delivered twice or after a page failed; never more posts wait at
    /// once than the concurrency allows.
    #[tokio::test(start_paused = true)]
    async fn every_id_is_reported_once_as_its_posts_answered() {
        let answers = [
            Answer::Ok,
            Answer::Gone,
            Answer::Throttled,
            Answer::ServerError,
            Answer::Forbidden,
        ];
        for seed in 0..300 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let config = BroadcastConfig {
                concurrency: rng.usize(1..=8),
                ..BroadcastConfig::default()
            };
            let api = Scripted::default();
            let mut pages = Vec::new();
            let mut expect = HashMap::new();
            let mut read = Vec::new();
            let mut failing = false;
            for page in 0..rng.usize(0..5) {
                if !failing && rng.u8(..) < 20 {
                    pages.push(Err(SendError::Store {
                        message: format!("page {page}"),
                    }));
                    failing = true;
                    continue;
                }
                let ids: Vec<String> = (0..rng.usize(0..25))
                    .map(|n| format!("c{page}-{n}"))
                    .collect();
                for id in &ids {
                    let script: Vec<(bool, Answer)> = (0..rng.usize(0..8))
                        .map(|_| (rng.bool(), answers[rng.usize(..answers.len())]))
                        .collect();
                    if !failing {
                        expect.insert(id.clone(), expected(&script, config.max_attempts as usize));
                        read.push(id.clone());
                    }
                    api.scripts.lock().unwrap().insert(id.clone(), script);
                }
                pages.push(Ok(ids));
            }
            let deadline = Instant::now() + Duration::from_secs(60);
            let (report, failure) = send_stream(
                &api,
                futures_util::stream::iter(pages),
                &Bytes::from_static(b"hi"),
                deadline,
                &config,
            )
            .await
            .unwrap();
            assert_eq!(failure.is_some(), failing, "seed {seed}");
            let mut seen: HashMap<String, &str> = HashMap::new();
            let named = report
                .gone
                .iter()
                .map(|id| (id, "gone"))
                .chain(report.failed.iter().map(|(id, _)| (id, "failed")))
                .chain(report.not_attempted.iter().map(|id| (id, "not attempted")));
            for (id, outcome) in named {
                assert!(
                    seen.insert(id.clone(), outcome).is_none(),
                    "seed {seed}: {id} twice"
                );
            }
            let delivered = api.delivered.lock().unwrap().clone();
            for (id, count) in &delivered {
                assert_eq!(*count, 1, "seed {seed}: {id} delivered {count} times");
                assert!(
                    seen.insert(id.clone(), "sent").is_none(),
                    "seed {seed}: {id} delivered and reported"
                );
            }
            assert_eq!(report.sent, delivered.len(), "seed {seed}");
            assert_eq!(seen.len(), read.len(), "seed {seed}: {seen:?}");
            for (id, outcome) in &expect {
                assert_eq!(seen.get(id), Some(outcome), "seed {seed}: {id}");
            }
            let most = api.most_outstanding.load(Ordering::SeqCst);
            assert!(
                most <= config.concurrency,
                "seed {seed}: {most} posts at once, concurrency {}",
                config.concurrency
            );
        }
    }
}
