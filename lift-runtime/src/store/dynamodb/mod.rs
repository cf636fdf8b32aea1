//! Connections, users and rooms in one DynamoDB table.
//!
//! # Schema
//!
//! One table, string keys `pk` (partition) and `sk` (sort), one global secondary index `gsi1`
//! (`gsi1pk`, `gsi1sk`, all attributes projected), on-demand billing (so the index has no
//! provisioned throughput either), and TTL on `expires_at` (epoch seconds).
//!
//! | item | `pk` | `sk` | other attributes |
//! |---|---|---|---|
//! | connection | `CONN#{id}` | `META` | `user`, `metadata` (JSON text), `connected_at` (epoch ms), `expires_at`, `rooms` (string set), `gsi1pk` = `USER#{user}`, `gsi1sk` = `CONN#{id}` |
//! | membership | `ROOM#{room}` | `CONN#{id}` | `connection_id`, `user`, `expires_at` |
//!
//! There are no counters or other items every request writes to (no hot keys): a room's
//! members are spread over its own partition, a user's connections over the index.
//!
//! # Access patterns (requests per call)
//!
//! | call | requests |
//! |---|---|
//! | `save` (`$connect`) | 1 `PutItem` |
//! | `save_joined` (`$connect` whose handler joined R rooms) | 1 `TransactWriteItems` of 1 + R items (R ≤ 99; past that, `save` then `join` each) |
//! | `get` (`ctx.connection()`, at most once per event) | 1 `GetItem` |
//! | `delete` (`$disconnect`) of a connection in R rooms | 1 `DeleteItem` (returning its rooms) + ⌈R/25⌉ `BatchWriteItem` |
//! | `join` | 1 `GetItem` (the user and expiry the membership copies) + 1 `TransactWriteItems` (the connection's `rooms` and the membership, atomically, on condition that the connection exists: a join racing a disconnect never leaves an orphan membership) |
//! | `leave` | 1 `TransactWriteItems` |
//! | `members` of a room of N | ⌈N/page size⌉ `Query` (one more when N is an exact multiple: DynamoDB only knows it is done when asked) |
//! | `user_connections` | `Query` pages on `gsi1` |
//! | `refresh` of a connection in R rooms | 1 `UpdateItem` + R `UpdateItem` |
//! | `remove_many` of K connections | ⌈K/100⌉ `BatchGetItem` + `BatchWriteItem`s of 25 deletes |
//! | `list` | `Scan` pages (the whole table: for small apps and tools) |
//!
//! DynamoDB deletes expired items lazily (up to days later), so every read filters on
//! `expires_at` itself: an expired connection or membership is invisible at once.
//! What DynamoDB leaves of a batch when it is throttled (`UnprocessedKeys` of a `BatchGetItem`,
//! `UnprocessedItems` of a `BatchWriteItem`) is retried with jittered exponential backoff
//! (50 ms doubling, at most 2 s); after 8 retries the operation fails with a [`StoreError`](crate::StoreError)
//! that says how much was left.

//!
//! The table's layout ([`table`]) is compiled without the `dynamodb` feature too: the deployment
//! template ([`deploy::Template`](crate::deploy::Template)) creates the same table.

#[cfg(feature = "dynamodb")]
mod env;
#[cfg(feature = "dynamodb")]
mod item;
#[cfg(feature = "dynamodb")]
mod store;
pub mod table;

#[cfg(all(feature = "dynamodb", feature = "local"))]
pub(crate) use env::from_env;
#[cfg(feature = "dynamodb")]
pub(crate) use env::with_config;
#[cfg(feature = "dynamodb")]
pub use store::{DynamoDbStore, TTL_ATTRIBUTE, USER_INDEX};

/// Decodes a connection item as [`DynamoDbStore`] reads one: for the fuzz targets, which feed
/// it arbitrary items. Not part of the stable API.
#[cfg(feature = "dynamodb")]
#[doc(hidden)]
pub fn decode_connection(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) -> Result<crate::store::Connection, crate::StoreError> {
    item::from_item(item)
}
