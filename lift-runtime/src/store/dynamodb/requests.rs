//! The requests more than one part of the DynamoDB store makes: a consistent read of one item,
//! and deletes in batches retried with backoff.

use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};

use super::item::{build_error, sdk_error, Item};
use super::store::{DynamoDbStore, BATCH_RETRY};
use crate::error::StoreError;

impl DynamoDbStore {
    /// The item with this key: one consistent `GetItem`.
    pub(super) async fn get_item(&self, key: Item) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| sdk_error("GetItem", err))?;
        Ok(out.item)
    }

    /// Deletes `keys` with `BatchWriteItem`s of 25, retrying unprocessed items with backoff.
    pub(super) async fn delete_keys(&self, keys: Vec<Item>) -> Result<(), StoreError> {
        for chunk in keys.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|key| {
                    DeleteRequest::builder()
                        .set_key(Some(key.clone()))
                        .build()
                        .map(|delete| WriteRequest::builder().delete_request(delete).build())
                        .map_err(build_error)
                })
                .collect::<Result<_, _>>()?;
            let mut attempt = 0u32;
            while !requests.is_empty() {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(|err| sdk_error("BatchWriteItem", err))?;
                requests = out
                    .unprocessed_items()
                    .and_then(|items| items.get(&self.table))
                    .cloned()
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                attempt += 1;
                let Some(pause) = BATCH_RETRY.pause(attempt, None) else {
                    return Err(StoreError::new(
                        format!(
                            "{} deletes stayed unprocessed after {attempt} attempts",
                            requests.len()
                        ),
                        None,
                    ));
                };
                tokio::time::sleep(pause).await;
            }
        }
        Ok(())
    }
}
