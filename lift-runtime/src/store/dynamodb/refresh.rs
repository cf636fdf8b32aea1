//! A connection's expiry moved ([`ConnectionStore::refresh`](crate::store::ConnectionStore::refresh)):
//! its item, its memberships and its presence entries.

use std::time::SystemTime;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::ReturnValue;

use super::item::{conn_key, epoch_secs, member_key, n, rooms_of, sdk_error};
use super::store::DynamoDbStore;
use crate::error::StoreError;

impl DynamoDbStore {
    /// One `UpdateItem` of the connection (answering its rooms and user), then one per room
    /// of its memberships and one per room of its presence entries.
    pub(super) async fn move_expiry(
        &self,
        connection_id: &str,
        expires_at: SystemTime,
    ) -> Result<(), StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(conn_key(connection_id)))
            .update_expression("SET expires_at = :exp")
            .condition_expression("attribute_exists(pk) AND expires_at > :now")
            .expression_attribute_values(":exp", n(epoch_secs(expires_at)))
            .expression_attribute_values(":now", n(epoch_secs(SystemTime::now())))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(err) if err.code() == Some("ConditionalCheckFailedException") => {
                return Err(StoreError::not_found(connection_id))
            }
            Err(err) => return Err(sdk_error("UpdateItem", err)),
        };
        let rooms = out.attributes().map(rooms_of).unwrap_or_default();
        let user = out
            .attributes()
            .and_then(|item| item.get("user"))
            .and_then(|user| user.as_s().ok())
            .cloned();
        if let Some(user) = &user {
            self.refresh_presence(connection_id, user, rooms.iter().cloned(), expires_at)
                .await?;
        }
        for room in rooms {
            let updated = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(member_key(&room, connection_id)))
                .update_expression("SET expires_at = :exp")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":exp", n(epoch_secs(expires_at)))
                .send()
                .await;
            match updated {
                // Left the room meanwhile: nothing to refresh.
                Err(err) if err.code() != Some("ConditionalCheckFailedException") => {
                    return Err(sdk_error("UpdateItem", err))
                }
                _ => {}
            }
        }
        Ok(())
    }
}
