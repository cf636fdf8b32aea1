//! Presence in the DynamoDB table (see the [schema](crate::store#dynamodb)): per room and user
//! one item `PRES#{room}` / `USER#{user}` whose map `conns` holds each of the user's connections
//! there with its expiry, changed by single `UpdateItem`s that answer the map as it was or is
//! (so "first connection" and "last connection" are decided atomically across processes); and
//! per room with presence one item `PRESENCE` / `ROOM#{room}`, which the sweep of expired
//! connections reads. Items expire by the table's TTL after the longest connection could.

use std::collections::HashMap;
use std::time::SystemTime;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::item::{epoch_secs, n, s, sdk_error, string, Item};
use super::store::DynamoDbStore;
use super::table;
use crate::error::StoreError;

/// The partition of the rooms with presence.
const ROOMS: &str = "PRESENCE";

fn user_key(room: &str, user: &str) -> Item {
    Item::from([
        ("pk".to_owned(), s(format!("PRES#{room}"))),
        ("sk".to_owned(), s(format!("USER#{user}"))),
    ])
}

/// When the items of a presence noted now may go: after any connection would have ended.
fn item_expiry() -> i64 {
    epoch_secs(
        SystemTime::now() + crate::store::MAX_CONNECTION_LIFETIME + crate::store::EXPIRY_SLACK,
    )
}

/// The connections of a `conns` map and their expiries (epoch seconds).
fn entries(item: Option<&Item>) -> HashMap<String, i64> {
    let Some(AttributeValue::M(map)) = item.and_then(|item| item.get("conns")) else {
        return HashMap::new();
    };
    map.iter()
        .filter_map(|(id, until)| Some((id.clone(), until.as_n().ok()?.parse().ok()?)))
        .collect()
}

fn conditional(err: &impl aws_sdk_dynamodb::error::ProvideErrorMetadata) -> bool {
    err.code() == Some("ConditionalCheckFailedException")
}

impl DynamoDbStore {
    /// One `UpdateItem` setting the connection's entry and answering the map before (two when
    /// the user's item is new: the map is made first), and one `PutItem` of the room's
    /// registration when the user is the room's newcomer.
    pub(super) async fn add_presence(
        &self,
        room: &str,
        user: &str,
        connection_id: &str,
        expires_at: SystemTime,
    ) -> Result<bool, StoreError> {
        let now = epoch_secs(SystemTime::now());
        let until = n(epoch_secs(expires_at));
        let before = loop {
            let set = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(user_key(room, user)))
                .update_expression("SET conns.#id = :until, #ttl = :ttl")
                .condition_expression("attribute_exists(conns)")
                .expression_attribute_names("#id", connection_id)
                .expression_attribute_names("#ttl", table::TTL)
                .expression_attribute_values(":until", until.clone())
                .expression_attribute_values(":ttl", n(item_expiry()))
                .return_values(ReturnValue::AllOld)
                .send()
                .await;
            match set {
                Ok(out) => break entries(out.attributes.as_ref()),
                Err(err) if conditional(&err) => {}
                Err(err) => return Err(sdk_error("UpdateItem", err)),
            }
            // The user's first entry in the room: the item made with its map.
            let made = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(user_key(room, user)))
                .update_expression("SET conns = :conns, #user = :user, #ttl = :ttl")
                .condition_expression("attribute_not_exists(conns)")
                .expression_attribute_names("#user", "user")
                .expression_attribute_names("#ttl", table::TTL)
                .expression_attribute_values(
                    ":conns",
                    AttributeValue::M(HashMap::from([(connection_id.to_owned(), until.clone())])),
                )
                .expression_attribute_values(":user", s(user))
                .expression_attribute_values(":ttl", n(item_expiry()))
                .send()
                .await;
            match made {
                Ok(_) => break HashMap::new(),
                // Made by another connection meanwhile: set the entry in it.
                Err(err) if conditional(&err) => continue,
                Err(err) => return Err(sdk_error("UpdateItem", err)),
            }
        };
        let first = !before.values().any(|until| *until > now);
        if first {
            let mut registration = Item::from([
                ("pk".to_owned(), s(ROOMS)),
                ("sk".to_owned(), s(format!("ROOM#{room}"))),
            ]);
            registration.insert("room".into(), s(room));
            registration.insert(table::TTL.into(), n(item_expiry()));
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(registration))
                .send()
                .await
                .map_err(|err| sdk_error("PutItem", err))?;
        }
        Ok(first)
    }

    /// One `UpdateItem` removing the entry and answering the map after.
    pub(super) async fn remove_presence(
        &self,
        room: &str,
        user: &str,
        connection_id: &str,
    ) -> Result<bool, StoreError> {
        let removed = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(user_key(room, user)))
            .update_expression("REMOVE conns.#id")
            .condition_expression("attribute_exists(conns.#id)")
            .expression_attribute_names("#id", connection_id)
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match removed {
            Ok(out) => {
                let now = epoch_secs(SystemTime::now());
                Ok(!entries(out.attributes.as_ref())
                    .values()
                    .any(|until| *until > now))
            }
            // Not there: nothing left.
            Err(err) if conditional(&err) => Ok(false),
            Err(err) => Err(sdk_error("UpdateItem", err)),
        }
    }

    /// Consistent `Query` pages of a partition.
    async fn partition(&self, pk: String) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(pk.clone()))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|err| sdk_error("Query", err))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    /// `Query` pages of the room's presence.
    pub(super) async fn present_users(&self, room: &str) -> Result<Vec<String>, StoreError> {
        let now = epoch_secs(SystemTime::now());
        let mut users = Vec::new();
        for item in self.partition(format!("PRES#{room}")).await? {
            if entries(Some(&item)).values().any(|until| *until > now) {
                users.push(string(&item, "user")?);
            }
        }
        users.sort_unstable();
        Ok(users)
    }

    /// `Query` pages of the rooms with presence, then of each room's users; for each user with
    /// expired entries one `UpdateItem` removing them, on condition that they are unchanged
    /// (an entry refreshed meanwhile stays).
    pub(super) async fn expire_presence(
        &self,
        now: SystemTime,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let now = epoch_secs(now);
        let mut left = Vec::new();
        for registration in self.partition(ROOMS.to_owned()).await? {
            let room = string(&registration, "room")?;
            for item in self.partition(format!("PRES#{room}")).await? {
                let conns = entries(Some(&item));
                let expired: Vec<(&String, &i64)> =
                    conns.iter().filter(|(_, until)| **until <= now).collect();
                if expired.is_empty() {
                    continue;
                }
                let user = string(&item, "user")?;
                let mut update = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(user_key(&room, &user)))
                    .return_values(ReturnValue::AllNew);
                let mut removes = Vec::new();
                let mut conditions = Vec::new();
                for (i, (id, until)) in expired.iter().enumerate() {
                    removes.push(format!("conns.#c{i}"));
                    conditions.push(format!("conns.#c{i} = :c{i}"));
                    update = update
                        .expression_attribute_names(format!("#c{i}"), id.as_str())
                        .expression_attribute_values(format!(":c{i}"), n(**until));
                }
                let removed = update
                    .update_expression(format!("REMOVE {}", removes.join(", ")))
                    .condition_expression(conditions.join(" AND "))
                    .send()
                    .await;
                match removed {
                    Ok(out) => {
                        let live = entries(out.attributes.as_ref())
                            .values()
                            .any(|until| *until > now);
                        if !live {
                            left.push((room.clone(), user));
                        }
                    }
                    // Changed meanwhile (a leave, a refresh): the next sweep sees it again.
                    Err(err) if conditional(&err) => {}
                    Err(err) => return Err(sdk_error("UpdateItem", err)),
                }
            }
        }
        left.sort_unstable();
        Ok(left)
    }

    /// After a connection's expiry moved: one `UpdateItem` per room of its presence entries.
    pub(super) async fn refresh_presence(
        &self,
        connection_id: &str,
        user: &str,
        rooms: impl IntoIterator<Item = String>,
        expires_at: SystemTime,
    ) -> Result<(), StoreError> {
        for room in rooms {
            let updated = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(user_key(&room, user)))
                .update_expression("SET conns.#id = :until")
                .condition_expression("attribute_exists(conns.#id)")
                .expression_attribute_names("#id", connection_id)
                .expression_attribute_values(":until", n(epoch_secs(expires_at)))
                .send()
                .await;
            match updated {
                Err(err) if !conditional(&err) => return Err(sdk_error("UpdateItem", err)),
                _ => {}
            }
        }
        Ok(())
    }
}
