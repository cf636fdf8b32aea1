//! The item codec and error mapping of the DynamoDB store (see the [module docs](super) for the
//! schema).

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

use super::table;
use crate::error::StoreError;
use crate::store::Connection;

/// A DynamoDB item.
pub(super) type Item = HashMap<String, AttributeValue>;

/// The key of a connection's item.
pub(super) fn conn_key(id: &str) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(format!("CONN#{id}"))),
        ("sk".to_owned(), s("META")),
    ])
}

/// The key of a membership item.
pub(super) fn member_key(room: &str, id: &str) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(format!("ROOM#{room}"))),
        ("sk".to_owned(), s(format!("CONN#{id}"))),
    ])
}

/// The item of `conn`'s membership of `room`: it copies the connection's user and expiry.
pub(super) fn membership(room: &str, conn: &Connection) -> Item {
    let mut item = member_key(room, &conn.id);
    item.insert("connection_id".into(), s(conn.id.clone()));
    item.insert(table::TTL.into(), n(epoch_secs(conn.expires_at)));
    if let Some(user) = &conn.user {
        item.insert("user".into(), s(user.clone()));
    }
    item
}

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn epoch_secs(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

pub(super) fn epoch_millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub(super) fn to_item(conn: &Connection) -> Item {
    let mut item = conn_key(&conn.id);
    item.insert("connected_at".into(), n(epoch_millis(conn.connected_at)));
    item.insert(table::TTL.into(), n(epoch_secs(conn.expires_at)));
    if let Some(user) = &conn.user {
        item.insert("user".into(), s(user.clone()));
        item.insert("gsi1pk".into(), s(format!("USER#{user}")));
        item.insert("gsi1sk".into(), s(format!("CONN#{}", conn.id)));
    }
    if !conn.metadata.is_null() {
        item.insert("metadata".into(), s(conn.metadata.to_string()));
    }
    if !conn.rooms.is_empty() {
        item.insert(
            "rooms".into(),
            AttributeValue::Ss(conn.rooms.iter().cloned().collect()),
        );
    }
    if let Some(session) = &conn.session {
        item.insert("session".into(), s(session.clone()));
    }
    item
}

pub(super) fn from_item(item: &Item) -> Result<Connection, StoreError> {
    let id = string(item, "pk")?
        .strip_prefix("CONN#")
        .ok_or_else(|| StoreError::new("a connection item's pk does not start with CONN#", None))?
        .to_owned();
    let metadata = metadata_of(item)?;
    Ok(Connection {
        user: optional_string(item, "user"),
        metadata,
        connected_at: UNIX_EPOCH
            + Duration::from_millis(number(item, "connected_at")?.max(0) as u64),
        expires_at: UNIX_EPOCH + Duration::from_secs(number(item, table::TTL)?.max(0) as u64),
        rooms: rooms_of(item),
        session: optional_string(item, "session"),
        id,
    })
}

/// The `metadata` of a connection or session item (JSON text), `null` when absent.
pub(super) fn metadata_of(item: &Item) -> Result<serde_json::Value, StoreError> {
    match optional_string(item, "metadata") {
        Some(text) => serde_json::from_str(&text)
            .map_err(|err| StoreError::new("stored metadata is not JSON", Some(err.into()))),
        None => Ok(serde_json::Value::Null),
    }
}

pub(super) fn rooms_of(item: &Item) -> BTreeSet<String> {
    match item.get("rooms") {
        Some(AttributeValue::Ss(rooms)) => rooms.iter().cloned().collect(),
        _ => BTreeSet::new(),
    }
}

pub(super) fn string(item: &Item, name: &str) -> Result<String, StoreError> {
    optional_string(item, name)
        .ok_or_else(|| StoreError::new(format!("stored item has no string `{name}`"), None))
}

pub(super) fn optional_string(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    }
}

pub(super) fn number(item: &Item, name: &str) -> Result<i64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value
            .parse()
            .map_err(|_| StoreError::new(format!("stored `{name}` is not an integer"), None)),
        _ => Err(StoreError::new(
            format!("stored item has no number `{name}`"),
            None,
        )),
    }
}

pub(super) fn build_error(err: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::new("could not build a DynamoDB request", Some(err.into()))
}

pub(super) fn sdk_error<E>(operation: &str, err: SdkError<E>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    StoreError::new(
        format!("DynamoDB {operation} failed: {}", DisplayErrorContext(&err)),
        None,
    )
}
