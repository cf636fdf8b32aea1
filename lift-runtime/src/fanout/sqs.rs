//! [`SqsQueue`]: fan-out records on SQS (`aws-sdk-sqs`), and, for the emulator, a poller that
//! feeds them to the service the way Lambda's event source mapping does.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, SendMessageBatchRequestEntry,
};
use tokio::task::JoinHandle;

use super::queue::{Deliver, FanoutQueue};
use super::MAX_RECORD_SIZE;

/// A fan-out queue on SQS. In Lambda, [`App::run`](crate::App::run) builds it from
/// `LIFT_FANOUT_QUEUE_URL`; the event source mapping of the generated template delivers its
/// records. In the emulator (`LIFT_FANOUT_QUEUE_URL` and `AWS_ENDPOINT_URL_SQS` set, e.g. to a
/// moto server) it also polls the queue and feeds the records to the app.
#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
    consumers: usize,
}

impl SqsQueue {
    /// The queue at `url`, reached with `config`.
    pub fn new(config: &aws_config::SdkConfig, url: impl Into<String>) -> Self {
        SqsQueue {
            client: aws_sdk_sqs::Client::new(config),
            url: url.into(),
            consumers: 10,
        }
    }

    /// Pollers [`deliver`](FanoutQueue::deliver) runs at once (the event source mapping's
    /// maximum concurrency). Default 10.
    pub(crate) fn consumers(mut self, consumers: usize) -> Self {
        self.consumers = consumers.max(1);
        self
    }
}

/// SQS's limits on one `SendMessageBatch`: entries and bytes.
const BATCH_ENTRIES: usize = 10;

#[async_trait]
impl FanoutQueue for SqsQueue {
    async fn enqueue(&self, records: Vec<String>) -> Result<(), crate::Error> {
        let mut batches: Vec<Vec<String>> = Vec::new();
        let mut size = 0;
        for record in records {
            let fits = batches
                .last()
                .is_some_and(|b| b.len() < BATCH_ENTRIES && size + record.len() <= MAX_RECORD_SIZE);
            if !fits {
                batches.push(Vec::new());
                size = 0;
            }
            size += record.len();
            batches.last_mut().expect("a batch was pushed").push(record);
        }
        let sends = batches.into_iter().map(|batch| self.send_batch(batch));
        let results = futures_util::future::join_all(sends).await;
        results
            .into_iter()
            .collect::<Result<Vec<()>, _>>()
            .map(drop)
    }

    fn deliver(&self, deliver: Deliver) -> Option<JoinHandle<()>> {
        let queue = self.clone();
        Some(tokio::spawn(async move {
            let pollers = (0..queue.consumers).map(|_| queue.poll(deliver.clone()));
            futures_util::future::join_all(pollers).await;
        }))
    }
}

impl SqsQueue {
    /// One `SendMessageBatch`, its failed entries tried again up to twice.
    async fn send_batch(&self, mut batch: Vec<String>) -> Result<(), crate::Error> {
        for attempt in 0..3 {
            let entries = batch
                .iter()
                .enumerate()
                .map(|(n, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(n.to_string())
                        .message_body(body)
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await;
            let failed: Vec<usize> = match out {
                Ok(out) => out
                    .failed()
                    .iter()
                    .filter_map(|entry| entry.id().parse().ok())
                    .collect(),
                Err(err) if attempt == 2 => {
                    return Err(format!("SendMessageBatch failed: {}", err_text(&err)).into())
                }
                Err(err) => {
                    tracing::warn!(error = %err_text(&err), "SendMessageBatch failed; trying again");
                    (0..batch.len()).collect()
                }
            };
            if failed.is_empty() {
                return Ok(());
            }
            batch = failed
                .into_iter()
                .filter_map(|n| batch.get(n).cloned())
                .collect();
            tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
        }
        Err(format!("SQS refused {} records", batch.len()).into())
    }

    /// Receives batches and hands them to `deliver` until aborted; deletes the records that
    /// did not fail.
    async fn poll(&self, deliver: Deliver) {
        let arn = queue_arn(&self.url);
        loop {
            let out = self
                .client
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .send()
                .await;
            let messages = match out {
                Ok(out) => out.messages.unwrap_or_default(),
                Err(err) => {
                    tracing::warn!(error = %err_text(&err), "could not receive from the fan-out queue");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if messages.is_empty() {
                continue;
            }
            let mut event = SqsEvent::default();
            let mut handles = Vec::new();
            for message in messages {
                let mut record = SqsMessage::default();
                record.message_id = message.message_id.clone();
                record.receipt_handle = message.receipt_handle.clone();
                record.body = message.body.clone();
                record.md5_of_body = message.md5_of_body.clone();
                record.event_source = Some("aws:sqs".into());
                record.event_source_arn = Some(arn.clone());
                for (name, value) in message.attributes.unwrap_or_default() {
                    record.attributes.insert(name.as_str().to_owned(), value);
                }
                handles.push((message.message_id, message.receipt_handle));
                event.records.push(record);
            }
            let deadline = Instant::now() + Duration::from_secs(30);
            let response = deliver(event, Some(deadline)).await;
            let failed: Vec<String> = response
                .batch_item_failures
                .into_iter()
                .map(|failure| failure.item_identifier)
                .collect();
            let entries = handles
                .into_iter()
                .filter(|(id, _)| !id.as_ref().is_some_and(|id| failed.contains(id)))
                .enumerate()
                .filter_map(|(n, (_, handle))| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(n.to_string())
                        .set_receipt_handle(handle)
                        .build()
                        .ok()
                })
                .collect::<Vec<_>>();
            if entries.is_empty() {
                continue;
            }
            let deleted = self
                .client
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await;
            if let Err(err) = deleted {
                tracing::warn!(error = %err_text(&err), "could not delete consumed fan-out records");
            }
        }
    }
}

/// `https://sqs.{region}.amazonaws.com/{account}/{name}` → `arn:aws:sqs:{region}:{account}:{name}`.
fn queue_arn(url: &str) -> String {
    let parts: Vec<&str> = url.trim_end_matches('/').rsplit('/').take(2).collect();
    let (name, account) = match parts.as_slice() {
        [name, account] => (*name, *account),
        _ => (url, "000000000000"),
    };
    let region = url
        .split("sqs.")
        .nth(1)
        .and_then(|rest| rest.split('.').next())
        .unwrap_or("local");
    format!("arn:aws:sqs:{region}:{account}:{name}")
}

/// An SDK error with its service code and message, not just "service error".
fn err_text<E, R>(err: &aws_sdk_sqs::error::SdkError<E, R>) -> String
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_sqs::error::ProvideErrorMetadata;
    match err.code() {
        Some(code) => format!("{code}: {}", err.message().unwrap_or("")),
        None => format!("{}", aws_sdk_sqs::error::DisplayErrorContext(err)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn queue_arns_are_made_from_urls() {
        assert_eq!(
            super::queue_arn("https://sqs.eu-west-1.amazonaws.com/123456789012/fanout"),
            "arn:aws:sqs:eu-west-1:123456789012:fanout"
        );
    }
}
