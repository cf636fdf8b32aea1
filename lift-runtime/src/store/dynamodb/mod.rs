//! Connections, users and rooms in one DynamoDB table (the schema is documented in
//! [`store`](crate::store#dynamodb)).
//!
//! The table's layout ([`table`]) is compiled without the `dynamodb` feature too: the deployment
//! template ([`deploy::Template`](crate::deploy::Template)) creates the same table.

#[cfg(feature = "dynamodb")]
mod counter;
#[cfg(feature = "dynamodb")]
mod env;
#[cfg(feature = "dynamodb")]
mod history;
#[cfg(feature = "dynamodb")]
mod item;
#[cfg(feature = "dynamodb")]
mod presence;
#[cfg(feature = "dynamodb")]
mod refresh;
#[cfg(feature = "dynamodb")]
mod requests;
#[cfg(feature = "dynamodb")]
mod session;
#[cfg(feature = "dynamodb")]
mod store;
pub(crate) mod table;

#[cfg(feature = "dynamodb")]
pub(crate) use env::with_config;
#[cfg(feature = "dynamodb")]
pub use store::DynamoDbStore;

/// Decodes a connection item as [`DynamoDbStore`] reads one: for the fuzz targets, which feed
/// it arbitrary items ([`__fuzz`](crate::__fuzz)).
#[cfg(feature = "dynamodb")]
pub fn decode_connection(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) -> Result<crate::store::Connection, crate::StoreError> {
    item::from_item(item)
}
