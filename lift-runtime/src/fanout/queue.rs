//! Where fan-out records wait: the [`FanoutQueue`] trait and [`LocalQueue`], the in-process
//! queue the emulator uses by default (with SQS's receive counts, visibility timeout and
//! dead-letter queue).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::FutureExt;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;

use futures_util::future::BoxFuture;

/// Hands a batch of records, as an SQS event, to the service, with the invocation's deadline;
/// answers which records failed. The emulator builds it from its
/// [`Service`](crate::Service).
pub type Deliver =
    Arc<dyn Fn(SqsEvent, Option<Instant>) -> BoxFuture<'static, SqsBatchResponse> + Send + Sync>;

/// A queue of fan-out records: [`LocalQueue`] in-process, `SqsQueue` (feature `sqs`) on SQS, or
/// one of your own.
#[async_trait]
pub trait FanoutQueue: Send + Sync + 'static {
    /// Queues these records (JSON, each under SQS's largest message, 256 KiB). `Err` when any
    /// could not be queued (some may have been).
    async fn enqueue(&self, records: Vec<String>) -> Result<(), crate::Error>;

    /// Starts delivering the queue's records to `deliver` in batches, the way Lambda's event
    /// source mapping does, until the returned task is aborted; `None` when something else
    /// delivers them (in Lambda, the event source mapping). The emulator calls it.
    fn deliver(&self, deliver: Deliver) -> Option<JoinHandle<()>>;
}

/// A record in the local queue.
struct Message {
    id: String,
    body: String,
    receives: u32,
}

/// Settings of a [`LocalQueue`]: those of an SQS queue and its event source mapping.
#[derive(Clone, Debug)]
pub struct LocalQueueConfig {
    /// Consumers running at once (the event source mapping's maximum concurrency). Default 10.
    pub consumers: usize,
    /// Records per batch. Default 10.
    pub batch_size: usize,
    /// Deliveries of a record before it goes to the dead-letter queue (`maxReceiveCount`).
    /// Default 3.
    pub max_receives: u32,
    /// How long a failed record waits before it is delivered again (the visibility timeout).
    /// Default 1 s (shorter than SQS's 30 s, for a quick local loop).
    pub visibility: Duration,
    /// Each consumer invocation's time (the function's timeout). Default 30 s.
    pub timeout: Duration,
}

impl Default for LocalQueueConfig {
    fn default() -> Self {
        LocalQueueConfig {
            consumers: 10,
            batch_size: 10,
            max_receives: 3,
            visibility: Duration::from_secs(1),
            timeout: Duration::from_secs(30),
        }
    }
}

struct Inner {
    tx: mpsc::UnboundedSender<Message>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<Message>>>,
    config: LocalQueueConfig,
    /// Records queued and not yet done with (deleted or dead-lettered).
    pending: AtomicUsize,
    dead: Mutex<Vec<String>>,
    next_id: AtomicUsize,
}

/// An in-process queue with SQS's delivery rules: batches to a bounded number of consumers,
/// failed records delivered again after the visibility timeout, and moved to a dead-letter
/// queue ([`dead_letters`](Self::dead_letters)) after `max_receives` deliveries. The emulator's
/// default, so fan-out runs locally with no set-up. Cheap to clone.
///
/// ```
/// use lift_runtime::fanout::{FanoutQueue, LocalQueue};
///
/// # #[tokio::main] async fn main() {
/// let queue = LocalQueue::default();
/// queue.enqueue(vec!["{}".into()]).await.unwrap();
/// // Nobody delivers it yet: it is still pending when the wait is over.
/// assert!(!queue.drained(std::time::Duration::from_millis(10)).await);
/// # }
/// ```
#[derive(Clone)]
pub struct LocalQueue {
    inner: Arc<Inner>,
}

impl LocalQueue {
    /// A queue with these settings.
    pub fn with_config(config: LocalQueueConfig) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        LocalQueue {
            inner: Arc::new(Inner {
                tx,
                rx: Mutex::new(Some(rx)),
                config,
                pending: AtomicUsize::new(0),
                dead: Mutex::new(Vec::new()),
                next_id: AtomicUsize::new(0),
            }),
        }
    }

    /// Records queued and not yet done with: waiting, being consumed, or waiting to be
    /// delivered again.
    pub(crate) fn pending(&self) -> usize {
        self.inner.pending.load(Ordering::SeqCst)
    }

    /// Waits until no record is pending, or `timeout` passes; `true` when none is.
    pub async fn drained(&self, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        while self.pending() > 0 {
            if Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// Records queued since the queue was made (a record delivered again is not counted again).
    pub fn enqueued(&self) -> usize {
        self.inner.next_id.load(Ordering::Relaxed)
    }

    /// The records moved to the dead-letter queue, oldest first.
    pub fn dead_letters(&self) -> Vec<String> {
        self.inner
            .dead
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A queue with the default settings.
impl Default for LocalQueue {
    fn default() -> Self {
        Self::with_config(LocalQueueConfig::default())
    }
}

impl std::fmt::Debug for LocalQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalQueue")
            .field("config", &self.inner.config)
            .field("pending", &self.pending())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl FanoutQueue for LocalQueue {
    async fn enqueue(&self, records: Vec<String>) -> Result<(), crate::Error> {
        for body in records {
            let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
            self.inner.pending.fetch_add(1, Ordering::SeqCst);
            let message = Message {
                id: format!("local-{id}"),
                body,
                receives: 0,
            };
            if self.inner.tx.send(message).is_err() {
                self.inner.pending.fetch_sub(1, Ordering::SeqCst);
                return Err("the local fan-out queue is closed".into());
            }
        }
        Ok(())
    }

    fn deliver(&self, deliver: Deliver) -> Option<JoinHandle<()>> {
        let Some(mut rx) = self
            .inner
            .rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            tracing::warn!("the local fan-out queue is already being delivered");
            return None;
        };
        let inner = self.inner.clone();
        Some(tokio::spawn(async move {
            let consumers = Arc::new(Semaphore::new(inner.config.consumers.max(1)));
            loop {
                let Ok(permit) = consumers.clone().acquire_owned().await else {
                    return;
                };
                let Some(first) = rx.recv().await else {
                    return;
                };
                let mut batch = vec![first];
                while batch.len() < inner.config.batch_size.max(1) {
                    match rx.try_recv() {
                        Ok(message) => batch.push(message),
                        Err(_) => break,
                    }
                }
                let inner = inner.clone();
                let deliver = deliver.clone();
                tokio::spawn(async move {
                    consume_batch(&inner, &deliver, batch).await;
                    drop(permit);
                });
            }
        }))
    }
}

/// One consumer invocation: the batch as an SQS event; failed records back after the
/// visibility timeout, or to the dead-letter queue.
async fn consume_batch(inner: &Arc<Inner>, deliver: &Deliver, mut batch: Vec<Message>) {
    let mut event = SqsEvent::default();
    for message in &mut batch {
        message.receives += 1;
        event.records.push(sqs_message(message));
    }
    let deadline = Instant::now() + inner.config.timeout;
    let failed: Vec<String> = match std::panic::AssertUnwindSafe(deliver(event, Some(deadline)))
        .catch_unwind()
        .await
    {
        Ok(response) => response
            .batch_item_failures
            .into_iter()
            .map(|failure| failure.item_identifier)
            .collect(),
        Err(_) => {
            tracing::error!("a fan-out consumer panicked; its batch will be delivered again");
            batch.iter().map(|message| message.id.clone()).collect()
        }
    };
    for message in batch {
        if !failed.contains(&message.id) {
            inner.pending.fetch_sub(1, Ordering::SeqCst);
        } else if message.receives >= inner.config.max_receives {
            tracing::warn!(
                message_id = %message.id,
                receives = message.receives,
                "a fan-out record failed every delivery: moved to the dead-letter queue"
            );
            inner
                .dead
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(message.body);
            inner.pending.fetch_sub(1, Ordering::SeqCst);
        } else {
            let inner = inner.clone();
            tokio::spawn(async move {
                tokio::time::sleep(inner.config.visibility).await;
                if inner.tx.send(message).is_err() {
                    inner.pending.fetch_sub(1, Ordering::SeqCst);
                }
            });
        }
    }
}

/// A record as Lambda's event source mapping gives it.
fn sqs_message(message: &Message) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = Some(message.id.clone());
    record.receipt_handle = Some(message.id.clone());
    record.body = Some(message.body.clone());
    record.event_source = Some("aws:sqs".into());
    record.event_source_arn = Some("arn:aws:sqs:local:000000000000:lift-fanout".into());
    record.aws_region = Some("local".into());
    record.attributes.insert(
        "ApproximateReceiveCount".into(),
        message.receives.to_string(),
    );
    record
}
