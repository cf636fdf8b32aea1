//! [`DynamoDbStore`]: the [`ConnectionStore`] on one DynamoDB table.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, KeysAndAttributes, Projection, ProjectionType, ReturnValue,
    ScalarAttributeType, TableStatus, TimeToLiveSpecification, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use futures_util::StreamExt;

use super::item::{
    build_error, conn_key, epoch_secs, from_item, member_key, membership, n, optional_string,
    rooms_of, s, sdk_error, string, to_item, Item,
};
use super::table;
use crate::error::StoreError;
use crate::retry::Backoff;
use crate::store::{
    Connection, ConnectionStore, HistoryEntry, HistoryPage, Member, MemberPage, Pages, Session,
    DEFAULT_PAGE_SIZE,
};

/// The name of the global secondary index on users.
pub(crate) const USER_INDEX: &str = table::USER_INDEX;
/// The TTL attribute (epoch seconds).
pub(crate) const TTL_ATTRIBUTE: &str = table::TTL;

/// A [`ConnectionStore`] on DynamoDB; see the [`store`](crate::store#dynamodb) module for the schema.
///
/// ```no_run
/// use lift_runtime::store::DynamoDbStore;
///
/// # async fn demo() -> Result<(), lift_runtime::Error> {
/// let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
/// let store = DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&config), "chat-connections");
/// store.create_table().await?; // local development and tests; in AWS the template does it
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct DynamoDbStore {
    pub(super) client: Client,
    pub(super) table: String,
    page_size: usize,
}

impl DynamoDbStore {
    /// A store on `table`, through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoDbStore {
            client,
            table: table.into(),
            page_size: DEFAULT_PAGE_SIZE,
        }
    }

    /// Items per page of [`members`](ConnectionStore::members) (DynamoDB's `Limit`).
    pub fn page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size.max(1);
        self
    }

    /// The table name.
    pub(crate) fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table (keys, the `gsi1` index, on-demand billing, TTL on `expires_at`) and
    /// waits until it is active. `Ok(false)` when it already existed. For local development and
    /// tests: in AWS the deployment template ([`deploy::Template`](crate::deploy::Template))
    /// creates the same table.
    pub async fn create_table(&self) -> Result<bool, StoreError> {
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(build_error)
        };
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_error)
        };
        let index = GlobalSecondaryIndex::builder()
            .index_name(USER_INDEX)
            .key_schema(key(table::INDEX_PK, KeyType::Hash)?)
            .key_schema(key(table::INDEX_SK, KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(build_error)?;
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(table::PK, KeyType::Hash)?)
            .key_schema(key(table::SK, KeyType::Range)?)
            .attribute_definitions(attr(table::PK)?)
            .attribute_definitions(attr(table::SK)?)
            .attribute_definitions(attr(table::INDEX_PK)?)
            .attribute_definitions(attr(table::INDEX_SK)?)
            .global_secondary_indexes(index)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(err) if err.code() == Some("ResourceInUseException") => return Ok(false),
            Err(err) => return Err(sdk_error("CreateTable", err)),
        }
        for attempt in 0..600 {
            let table = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|err| sdk_error("DescribeTable", err))?;
            if table.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                break;
            }
            if attempt == 599 {
                return Err(StoreError::new(
                    format!("table {} never became active", self.table),
                    None,
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let ttl = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(TTL_ATTRIBUTE)
            .build()
            .map_err(build_error)?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(|err| sdk_error("UpdateTimeToLive", err))?;
        tracing::info!(table = %self.table, "created the DynamoDB table");
        Ok(true)
    }

    /// Writes the update of a connection's record and the change of a membership atomically;
    /// `Ok(false)` when the update's condition failed (the connection is gone).
    async fn transact(
        &self,
        update: Update,
        membership: TransactWriteItem,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .transact_items(membership)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if err.code() == Some("TransactionCanceledException") => Ok(false),
            Err(err) => Err(sdk_error("TransactWriteItems", err)),
        }
    }
}

/// The most items one `TransactWriteItems` may write.
const MAX_TRANSACTION_ITEMS: usize = 100;

impl DynamoDbStore {
    /// A transaction's put of `item` into the table.
    fn put(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

#[async_trait]
impl ConnectionStore for DynamoDbStore {
    /// One `TransactWriteItems`: the connection, its `rooms` and a membership per room, all
    /// or nothing (the default's save, then a read and a transaction per room, is 1 + 2R
    /// requests).
    async fn save_joined(&self, connection: &Connection) -> Result<(), StoreError> {
        if connection.rooms.len() + 1 > MAX_TRANSACTION_ITEMS {
            return crate::store::save_then_join(self, connection).await;
        }
        let mut items = vec![self.put(to_item(connection))?];
        for room in &connection.rooms {
            items.push(self.put(membership(room, connection))?);
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|err| sdk_error("TransactWriteItems", err))?;
        Ok(())
    }

    async fn save(&self, connection: &Connection) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(connection)))
            .send()
            .await
            .map_err(|err| sdk_error("PutItem", err))?;
        Ok(())
    }

    async fn get(&self, connection_id: &str) -> Result<Option<Connection>, StoreError> {
        let item = self.get_item(conn_key(connection_id)).await?;
        let now = SystemTime::now();
        Ok(item
            .as_ref()
            .map(from_item)
            .transpose()?
            .filter(|conn| !conn.is_expired(now)))
    }

    async fn delete(&self, connection_id: &str) -> Result<(), StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(conn_key(connection_id)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|err| sdk_error("DeleteItem", err))?;
        let rooms = out.attributes().map(rooms_of).unwrap_or_default();
        if let Some(old) = out.attributes().filter(|old| old.contains_key("session")) {
            self.park(&from_item(old)?).await?;
        }
        let keys = rooms
            .iter()
            .map(|room| member_key(room, connection_id))
            .collect();
        self.delete_keys(keys).await
    }

    async fn refresh(&self, connection_id: &str, expires_at: SystemTime) -> Result<(), StoreError> {
        self.move_expiry(connection_id, expires_at).await
    }

    async fn user_connections(&self, user: &str) -> Result<Vec<Connection>, StoreError> {
        connections(|start| async move {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(USER_INDEX)
                .key_condition_expression("gsi1pk = :user")
                .filter_expression("expires_at > :now")
                .expression_attribute_values(":user", s(format!("USER#{user}")))
                .expression_attribute_values(":now", n(epoch_secs(SystemTime::now())))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|err| sdk_error("Query", err))?;
            Ok((out.items().to_vec(), out.last_evaluated_key().cloned()))
        })
        .await
    }

    async fn join(&self, connection_id: &str, room: &str) -> Result<(), StoreError> {
        // The connection's record learns the room only if it exists and is live; the membership
        // is written in the same transaction, so a join racing a disconnect either lands before
        // it (and is deleted with it) or fails.
        let now = epoch_secs(SystemTime::now());
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(conn_key(connection_id)))
            .update_expression("ADD rooms :room")
            .condition_expression("attribute_exists(pk) AND expires_at > :now")
            .expression_attribute_values(":room", AttributeValue::Ss(vec![room.to_owned()]))
            .expression_attribute_values(":now", n(now))
            .build()
            .map_err(build_error)?;
        // The membership copies the connection's user and expiry (a transaction cannot read
        // them), so they are read first.
        let Some(conn) = self.get(connection_id).await? else {
            return Err(StoreError::not_found(connection_id));
        };
        let put = self.put(membership(room, &conn))?;
        if self.transact(update, put).await? {
            Ok(())
        } else {
            Err(StoreError::not_found(connection_id))
        }
    }

    async fn leave(&self, connection_id: &str, room: &str) -> Result<(), StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(conn_key(connection_id)))
            .update_expression("DELETE rooms :room")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":room", AttributeValue::Ss(vec![room.to_owned()]))
            .build()
            .map_err(build_error)?;
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(member_key(room, connection_id)))
            .build()
            .map_err(build_error)?;
        // `false` when the connection is gone: its memberships went with it.
        let delete = TransactWriteItem::builder().delete(delete).build();
        self.transact(update, delete).await.map(drop)
    }

    fn members<'a>(&'a self, room: &'a str) -> Pages<'a, Member> {
        // `Some(cursor)`: a page to read, from `cursor`; `None`: the last page was read.
        futures_util::stream::unfold(
            Some(None),
            move |state: Option<Option<String>>| async move {
                let cursor = state?;
                match self
                    .member_page(room, cursor.as_deref(), self.page_size)
                    .await
                {
                    Ok(page) => Some((Ok(page.members), page.next.map(Some))),
                    Err(err) => Some((Err(err), None)),
                }
            },
        )
        .boxed()
    }

    async fn member_page(
        &self,
        room: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<MemberPage, StoreError> {
        // The cursor is the membership's sort key (`CONN#{id}`): with the room it is the
        // `ExclusiveStartKey`.
        let start = cursor.map(|sk| {
            HashMap::from([
                ("pk".to_owned(), s(format!("ROOM#{room}"))),
                ("sk".to_owned(), s(sk)),
            ])
        });
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :room")
            .filter_expression("expires_at > :now")
            .expression_attribute_values(":room", s(format!("ROOM#{room}")))
            .expression_attribute_values(":now", n(epoch_secs(SystemTime::now())))
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|err| sdk_error("Query", err))?;
        let members = out
            .items()
            .iter()
            .map(|item| {
                Ok(Member {
                    connection_id: string(item, "connection_id")?,
                    user: optional_string(item, "user"),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let next = out
            .last_evaluated_key()
            .and_then(|key| key.get("sk"))
            .and_then(|sk| sk.as_s().ok())
            .cloned();
        Ok(MemberPage { members, next })
    }

    async fn remove_many(&self, connection_ids: &[String]) -> Result<(), StoreError> {
        let mut keys = Vec::new();
        for chunk in connection_ids.chunks(100) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.iter().map(|id| conn_key(id)).collect()))
                    .projection_expression("pk, rooms, #s, metadata, connected_at, expires_at")
                    .expression_attribute_names("#s", "session")
                    .build()
                    .map_err(build_error)?,
            );
            let mut attempt = 0u32;
            while let Some(request) = pending.take() {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|err| sdk_error("BatchGetItem", err))?;
                for item in out
                    .responses()
                    .and_then(|r| r.get(&self.table))
                    .into_iter()
                    .flatten()
                {
                    let id = string(item, "pk")?.trim_start_matches("CONN#").to_owned();
                    keys.extend(rooms_of(item).iter().map(|room| member_key(room, &id)));
                    if item.contains_key("session") {
                        self.park(&from_item(item)?).await?;
                    }
                }
                pending = out
                    .unprocessed_keys()
                    .and_then(|keys| keys.get(&self.table))
                    .filter(|request| !request.keys().is_empty())
                    .cloned();
                if let Some(request) = &pending {
                    attempt += 1;
                    let Some(pause) = BATCH_RETRY.pause(attempt, None) else {
                        return Err(StoreError::new(
                            format!(
                                "{} reads stayed unprocessed after {attempt} attempts",
                                request.keys().len()
                            ),
                            None,
                        ));
                    };
                    tokio::time::sleep(pause).await;
                }
            }
        }
        keys.extend(connection_ids.iter().map(|id| conn_key(id)));
        self.delete_keys(keys).await
    }

    /// One consistent `GetItem`.
    async fn session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        self.get_session(id).await
    }

    /// One `PutItem`.
    async fn save_session(&self, session: &Session) -> Result<(), StoreError> {
        self.put_session(session).await
    }

    /// One `UpdateItem` (the room's counter).
    async fn next_seq(&self, room: &str) -> Result<u64, StoreError> {
        self.next_history_seq(room).await
    }

    /// One `UpdateItem` (two for the user's first entry in the room), one `PutItem` more when
    /// the user is the room's newcomer.
    async fn presence_join(
        &self,
        room: &str,
        user: &str,
        connection_id: &str,
        expires_at: SystemTime,
    ) -> Result<bool, StoreError> {
        self.add_presence(room, user, connection_id, expires_at)
            .await
    }

    /// One `UpdateItem`.
    async fn presence_leave(
        &self,
        room: &str,
        user: &str,
        connection_id: &str,
    ) -> Result<bool, StoreError> {
        self.remove_presence(room, user, connection_id).await
    }

    /// `Query` pages of the room's users.
    async fn presence_users(&self, room: &str) -> Result<Vec<String>, StoreError> {
        self.present_users(room).await
    }

    /// `Query` pages of the rooms with presence and of each room's users; one `UpdateItem` per
    /// user with expired entries.
    async fn presence_expire(&self, now: SystemTime) -> Result<Vec<(String, String)>, StoreError> {
        self.expire_presence(now).await
    }

    /// One `UpdateItem`.
    async fn count(&self, key: &str, window_end: SystemTime) -> Result<u64, StoreError> {
        self.add_to_counter(key, window_end).await
    }

    /// One `PutItem`.
    async fn save_history(&self, room: &str, entry: &HistoryEntry) -> Result<(), StoreError> {
        self.put_history(room, entry).await
    }

    /// One consistent `Query` per 1,000 items read (one `GetItem` more when `limit` entries
    /// came before the counter).
    async fn history(
        &self,
        room: &str,
        after: u64,
        limit: usize,
    ) -> Result<HistoryPage, StoreError> {
        self.read_history(room, after, limit).await
    }

    async fn list(&self) -> Result<Vec<Connection>, StoreError> {
        connections(|start| async move {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(pk, :conn) AND sk = :meta AND expires_at > :now")
                .expression_attribute_values(":conn", s("CONN#"))
                .expression_attribute_values(":meta", s("META"))
                .expression_attribute_values(":now", n(epoch_secs(SystemTime::now())))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|err| sdk_error("Scan", err))?;
            Ok((out.items().to_vec(), out.last_evaluated_key().cloned()))
        })
        .await
    }
}

/// Every connection item of a paginated read, sorted by id: `page` fetches the page after a key
/// and returns its items and the next key.
async fn connections<F, Fut>(mut page: F) -> Result<Vec<Connection>, StoreError>
where
    F: FnMut(Option<Item>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<Item>, Option<Item>), StoreError>>,
{
    let mut all = Vec::new();
    let mut start = None;
    loop {
        let (items, next) = page(start).await?;
        for item in &items {
            all.push(from_item(item)?);
        }
        start = next;
        if start.is_none() {
            break;
        }
    }
    all.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(all)
}

/// How a batch's unprocessed keys or items are retried: 8 retries after the first request,
/// then the store gives up with an error.
pub(super) const BATCH_RETRY: Backoff = Backoff {
    max_attempts: 9,
    base: Duration::from_millis(100),
    max: Duration::from_secs(2),
};
