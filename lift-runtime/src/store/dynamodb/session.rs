//! Sessions in the DynamoDB table: one item per session (`SESSION#{id}` / `META`), parked by
//! the removal of its connection with a conditional `UpdateItem` (see the [schema](crate::store#dynamodb)).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;

use super::item::{
    epoch_secs, metadata_of, number, optional_string, rooms_of, s, sdk_error, string, Item,
};
use super::store::DynamoDbStore;
use super::table;
use crate::error::StoreError;
use crate::store::{Connection, Session};

/// The key of a session's item.
fn session_key(id: &str) -> Item {
    Item::from([
        ("pk".to_owned(), s(format!("SESSION#{id}"))),
        ("sk".to_owned(), s("META")),
    ])
}

fn to_item(session: &Session) -> Item {
    let mut item = session_key(&session.id);
    item.insert("connection_id".into(), s(session.connection_id.clone()));
    item.insert(
        table::TTL.into(),
        super::item::n(epoch_secs(session.expires_at)),
    );
    item.insert("parked".into(), AttributeValue::Bool(session.parked));
    if let Some(user) = &session.user {
        item.insert("user".into(), s(user.clone()));
    }
    if !session.metadata.is_null() {
        item.insert("metadata".into(), s(session.metadata.to_string()));
    }
    if !session.rooms.is_empty() {
        item.insert(
            "rooms".into(),
            AttributeValue::Ss(session.rooms.iter().cloned().collect()),
        );
    }
    item
}

fn from_item(item: &Item) -> Result<Session, StoreError> {
    let id = string(item, "pk")?
        .strip_prefix("SESSION#")
        .ok_or_else(|| StoreError::new("a session item's pk does not start with SESSION#", None))?
        .to_owned();
    let metadata = metadata_of(item)?;
    Ok(Session {
        id,
        user: optional_string(item, "user"),
        connection_id: string(item, "connection_id")?,
        rooms: rooms_of(item),
        metadata,
        parked: matches!(item.get("parked"), Some(AttributeValue::Bool(true))),
        expires_at: UNIX_EPOCH + Duration::from_secs(number(item, table::TTL)?.max(0) as u64),
    })
}

impl DynamoDbStore {
    /// `GetItem` of a session (consistent), unless unknown or expired.
    pub(super) async fn get_session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let item = self.get_item(session_key(id)).await?;
        let now = SystemTime::now();
        Ok(item
            .as_ref()
            .map(from_item)
            .transpose()?
            .filter(|session| session.expires_at > now))
    }

    /// `PutItem` of a session.
    pub(super) async fn put_session(&self, session: &Session) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(session)))
            .send()
            .await
            .map_err(|err| sdk_error("PutItem", err))?;
        Ok(())
    }

    /// Parks the session of a connection being removed (`item`, as read before or returned by
    /// its deletion): one `UpdateItem` keeping its rooms and metadata, on condition that the
    /// session's connection is still this one (a resumed session has moved on). Nothing for a
    /// connection without a session.
    pub(super) async fn park(&self, connection: &Connection) -> Result<(), StoreError> {
        let Some(id) = &connection.session else {
            return Ok(());
        };
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(session_key(id)))
            .condition_expression("connection_id = :c")
            .expression_attribute_values(":c", s(connection.id.clone()))
            .expression_attribute_values(":p", AttributeValue::Bool(true));
        let mut set = vec!["parked = :p"];
        let mut remove = Vec::new();
        if connection.rooms.is_empty() {
            remove.push("rooms");
        } else {
            set.push("rooms = :r");
            update = update.expression_attribute_values(
                ":r",
                AttributeValue::Ss(connection.rooms.iter().cloned().collect()),
            );
        }
        if connection.metadata.is_null() {
            remove.push("metadata");
        } else {
            set.push("metadata = :m");
            update = update.expression_attribute_values(":m", s(connection.metadata.to_string()));
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        match update.update_expression(expression).send().await {
            Ok(_) => Ok(()),
            // The session moved on to another connection, or is gone: nothing to keep.
            Err(err) if err.code() == Some("ConditionalCheckFailedException") => Ok(()),
            Err(err) => Err(sdk_error("UpdateItem", err)),
        }
    }
}
