//! Counters of time windows in the DynamoDB table (`COUNT#{key}` / `W#{window end}`, see the
//! [schema](crate::store#dynamodb)): one item per key and window, expired by the table's TTL
//! after its window, so a new window starts from nothing without a reset.

use std::time::SystemTime;

use aws_sdk_dynamodb::types::ReturnValue;

use super::item::{epoch_secs, n, number, s, sdk_error, Item};
use super::store::DynamoDbStore;
use super::table;
use crate::error::StoreError;

impl DynamoDbStore {
    /// One `UpdateItem` adding 1 to the window's counter (created at 1), answering the new
    /// value.
    pub(super) async fn add_to_counter(
        &self,
        key: &str,
        window_end: SystemTime,
    ) -> Result<u64, StoreError> {
        let end = epoch_secs(window_end);
        let item_key = Item::from([
            ("pk".to_owned(), s(format!("COUNT#{key}"))),
            ("sk".to_owned(), s(format!("W#{end}"))),
        ]);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item_key))
            .update_expression("ADD n :one SET #ttl = :end")
            .expression_attribute_names("#ttl", table::TTL)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":end", n(end))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|err| sdk_error("UpdateItem", err))?;
        let attributes: Item = out.attributes.unwrap_or_default();
        Ok(number(&attributes, "n")?.max(0) as u64)
    }
}
