//! Room history in the DynamoDB table: each room's counter (`HIST#{room}` / `SEQ`) and its kept
//! broadcasts (`HIST#{room}` / `MSG#{seq}`, the number zero-padded to 20 digits so the sort key
//! orders them), expired by the table's TTL (see the [schema](crate::store#dynamodb)). One
//! `Query` reads entries and, after them in the partition's order (`SEQ` sorts after `MSG#`),
//! the counter.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::item::{epoch_secs, n, number, s, sdk_error, string, Item};
use super::store::DynamoDbStore;
use super::table;
use crate::error::StoreError;
use crate::store::{HistoryEntry, HistoryPage};

/// The sort key of the counter item.
const COUNTER: &str = "SEQ";

fn partition(room: &str) -> AttributeValue {
    s(format!("HIST#{room}"))
}

fn entry_key(seq: u64) -> String {
    format!("MSG#{seq:020}")
}

fn counter_key(room: &str) -> Item {
    Item::from([
        ("pk".to_owned(), partition(room)),
        ("sk".to_owned(), s(COUNTER)),
    ])
}

impl DynamoDbStore {
    /// One `UpdateItem` adding 1 to the room's counter (created at 1), answering the new value.
    pub(super) async fn next_history_seq(&self, room: &str) -> Result<u64, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(counter_key(room)))
            .update_expression("ADD seq :one")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|err| sdk_error("UpdateItem", err))?;
        let attributes = out.attributes.unwrap_or_default();
        Ok(number(&attributes, "seq")?.max(0) as u64)
    }

    /// One `PutItem` of the entry, expiring with the table's TTL.
    pub(super) async fn put_history(
        &self,
        room: &str,
        entry: &HistoryEntry,
    ) -> Result<(), StoreError> {
        let mut item = Item::from([
            ("pk".to_owned(), partition(room)),
            ("sk".to_owned(), s(entry_key(entry.seq))),
        ]);
        item.insert("frame".into(), s(entry.frame.clone()));
        item.insert(table::TTL.into(), n(epoch_secs(entry.expires_at)));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|err| sdk_error("PutItem", err))?;
        Ok(())
    }

    /// `Query` pages of the room's partition after entry `after` (consistent: an entry saved
    /// before the read is in it), until `limit` live entries or the counter; one `GetItem` of
    /// the counter when the entries filled the page first.
    pub(super) async fn read_history(
        &self,
        room: &str,
        after: u64,
        limit: usize,
    ) -> Result<HistoryPage, StoreError> {
        let now = SystemTime::now();
        let mut page = HistoryPage::default();
        let mut last = None;
        let mut start: Option<Item> = None;
        'pages: loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("pk = :pk AND sk > :after")
                .expression_attribute_values(":pk", partition(room))
                .expression_attribute_values(":after", s(entry_key(after)))
                .limit((limit + 1).min(1_000) as i32)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|err| sdk_error("Query", err))?;
            for item in out.items.unwrap_or_default() {
                let sort = string(&item, "sk")?;
                if sort == COUNTER {
                    last = Some(number(&item, "seq")?.max(0) as u64);
                    break 'pages;
                }
                if page.entries.len() == limit {
                    break 'pages;
                }
                let expires_at =
                    UNIX_EPOCH + Duration::from_secs(number(&item, table::TTL)?.max(0) as u64);
                if expires_at <= now {
                    continue;
                }
                let seq = sort
                    .strip_prefix("MSG#")
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| StoreError::new(format!("not a history entry: {sort}"), None))?;
                page.entries.push(HistoryEntry {
                    seq,
                    frame: string(&item, "frame")?,
                    expires_at,
                });
            }
            match out.last_evaluated_key {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        page.last = match last {
            Some(last) => last,
            None => match self.get_item(counter_key(room)).await? {
                Some(item) => number(&item, "seq")?.max(0) as u64,
                None => 0,
            },
        };
        Ok(page)
    }
}
