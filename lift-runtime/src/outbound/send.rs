//! Sending one message to many connections: bounded concurrency, deadline-aware retries of
//! throttled (429) and failed (5xx, network) sends, and the [`BroadcastReport`]. Does not touch
//! the store: [`Outbound`](super::Outbound) removes the connections found gone.

use std::future::Future;
use std::sync::OnceLock;
use std::task::Poll;
use std::time::Instant;

use bytes::Bytes;
use futures_util::stream::FuturesUnordered;
use futures_util::{Stream, StreamExt};

use super::management::{ManagementApi, MAX_MESSAGE_SIZE};
use super::pace::Pacer;
use crate::error::SendError;
use crate::retry::Backoff;
pub(crate) use crate::settings::BroadcastSettings;
use futures_util::future::BoxFuture;

/// A post's future, as [`ManagementApi::post_shared`] makes it.
type Post<'a> = BoxFuture<'a, Result<(), SendError>>;

impl BroadcastSettings {
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

/// What a broadcast did, connection by connection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BroadcastReport {
    /// Connections the message was delivered to.
    pub sent: usize,
    /// Connections API Gateway reported gone (410); they were removed from the store, except
    /// those opened in the last 30 s (API Gateway answers 410 while a `$connect` runs).
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
    config: &BroadcastSettings,
    pacer: Option<&Pacer>,
) -> Outcome {
    let retries = Retries {
        api,
        connection_id,
        data,
        cutoff: config.cutoff(deadline),
        config,
        pacer,
    };
    if pacer.is_some() {
        return Box::pin(retries.run(0, None)).await;
    }
    if Instant::now() >= retries.cutoff {
        return Outcome::NotAttempted;
    }
    // The first post is made here; retries, rarer, in a boxed future of their own.
    match post_once(api, connection_id, data, retries.cutoff).await {
        Ok(outcome) => outcome,
        Err(err) => Box::pin(retries.run(1, Some(err))).await,
    }
}

/// One post, given up at `cutoff`: `Sent` or `Gone`, or the error.
async fn post_once(
    api: &dyn ManagementApi,
    connection_id: &str,
    data: &Bytes,
    cutoff: Instant,
) -> Result<Outcome, SendError> {
    await_post(api, api.post_shared(connection_id, data), cutoff).await
}

/// What a post answered, waited for until `cutoff`: `Sent` or `Gone`, or the error. A post
/// answered when first polled (an in-process Management API) needs no timer; one that waits
/// gets one.
async fn await_post(
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

/// One connection's send, as far as its retries need it: where to post what, until when,
/// with which policy, and the pacer each post waits for (fan-out's consumers), if any.
#[derive(Clone, Copy)]
struct Retries<'a> {
    api: &'a dyn ManagementApi,
    connection_id: &'a str,
    data: &'a Bytes,
    cutoff: Instant,
    config: &'a BroadcastSettings,
    pacer: Option<&'a Pacer>,
}

impl Retries<'_> {
    /// Posts after the first `done` ones, the last of which failed with `last` (each paced by
    /// the pacer when there is one), until one succeeds, the error cannot be retried, the
    /// attempts run out or a pause would pass the cutoff.
    async fn run(self, mut done: u32, mut last: Option<SendError>) -> Outcome {
        let Retries {
            api,
            connection_id,
            data,
            cutoff,
            config,
            pacer,
        } = self;
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
            match post_once(api, connection_id, data, cutoff).await {
                Ok(outcome) => return outcome,
                Err(err) => last = Some(err),
            }
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
    config: &BroadcastSettings,
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
/// in-flight set. At the cutoff, every send still in flight fails with
/// [`SendError::Deadline`]: one timer for the broadcast, made when the first post has to wait
/// (a timer per post was most of what lift's sender spent over the signed floor with the
/// Management API 2 ms away: `BENCHMARKS.md`). An `Err` from the stream (a store failure) ends
/// the reading; it is returned beside the report of what was sent, the sends already started
/// being finished first. Does not touch the store. `Err` before any send when the message is
/// too large.
pub(crate) async fn send_stream<S>(
    api: &dyn ManagementApi,
    pages: S,
    data: &Bytes,
    deadline: Instant,
    config: &BroadcastSettings,
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
    let mut timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    // Whether the timer has fired: no id is attempted after (whatever the clock read says).
    let mut past_cutoff = false;
    // One loop instead of a chain of stream adapters (scan, map, buffer_unordered): ids are
    // taken while fewer than `limit` sends are in flight, finished sends are counted as they
    // come.
    std::future::poll_fn(|cx| loop {
        let mut progress = false;
        // One clock read for the ids taken in this pass (a pass takes at most `limit`): past
        // the cutoff, an id is not attempted.
        let late = past_cutoff || Instant::now() >= cutoff;
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
            let retries = Retries {
                api,
                connection_id: id,
                data,
                cutoff,
                config,
                pacer: None,
            };
            in_flight.push(Flight::new(retries, first));
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
        // The cutoff, for every send still waiting: one timer, made when a first post waits.
        if !in_flight.is_empty() {
            let timer =
                timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(cutoff.into())));
            if timer.as_mut().poll(cx).is_ready() {
                for flight in in_flight.iter() {
                    report.failed.push((
                        flight.id.to_owned(),
                        SendError::Deadline {
                            endpoint: api.endpoint().to_owned(),
                        },
                    ));
                }
                in_flight.clear();
                past_cutoff = true;
                progress = true;
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

/// A send in a broadcast's in-flight set: a post made and polled once by [`send_stream`] that
/// has to wait, or the retries of one that failed. Its id is readable while it waits, so the
/// broadcast can report it when the cutoff comes (one timer for the whole broadcast, not one
/// per post).
struct Flight<'a> {
    id: &'a str,
    stage: Stage<'a>,
    retries: Retries<'a>,
}

enum Stage<'a> {
    /// The first post, waiting for its answer.
    Posting(Post<'a>),
    /// The retries after it (rarer), each post given up at the cutoff.
    Retrying(BoxFuture<'a, Outcome>),
}

impl<'a> Flight<'a> {
    /// The send to `retries.connection_id` whose first post is `first`: waiting, or failed
    /// with an error to retry.
    fn new(retries: Retries<'a>, first: Result<Post<'a>, SendError>) -> Self {
        let id = retries.connection_id;
        let stage = match first {
            Ok(post) => Stage::Posting(post),
            Err(err) => Stage::Retrying(Box::pin(retries.run(1, Some(err)))),
        };
        Flight { id, stage, retries }
    }
}

impl<'a> Future for Flight<'a> {
    type Output = (&'a str, Outcome);

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let flight = self.get_mut();
        loop {
            match &mut flight.stage {
                Stage::Posting(post) => {
                    let err = match std::task::ready!(post.as_mut().poll(cx)) {
                        Ok(()) => return Poll::Ready((flight.id, Outcome::Sent)),
                        Err(SendError::Gone { .. }) => {
                            return Poll::Ready((flight.id, Outcome::Gone))
                        }
                        Err(err) if !retryable(&err) => {
                            return Poll::Ready((flight.id, Outcome::Failed(err)))
                        }
                        Err(err) => err,
                    };
                    flight.stage = Stage::Retrying(Box::pin(flight.retries.run(1, Some(err))));
                }
                Stage::Retrying(retrying) => {
                    return retrying.as_mut().poll(cx).map(|o| (flight.id, o))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
