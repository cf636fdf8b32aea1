//! The single-table layout: the names both `DynamoDbStore::create_table` and
//! the deployment template ([`deploy::Template`](crate::deploy::Template)) create.

/// Partition key.
pub const PK: &str = "pk";
/// Sort key.
pub const SK: &str = "sk";
/// The user index and its keys.
pub const USER_INDEX: &str = "gsi1";
/// Partition key of the user index.
pub const INDEX_PK: &str = "gsi1pk";
/// Sort key of the user index.
pub const INDEX_SK: &str = "gsi1sk";
/// The TTL attribute (epoch seconds).
pub const TTL: &str = "expires_at";
