//! The DynamoDB store the settings ask for (`LIFT_TABLE_NAME`).

use aws_sdk_dynamodb::Client;

use super::DynamoDbStore;

/// The store [`Settings::table_name`](crate::Settings::table_name) asks for: a
/// [`DynamoDbStore`] on `table`, with an AWS configuration already loaded. Outside Lambda
/// (`local`), in a build with the emulator (feature `local`), the table is created if it does
/// not exist; in Lambda none is ever created, and a build without the emulator (one for Lambda)
/// leaves `create_table` and the SDK operations it calls out of the binary.
pub(crate) async fn with_config(
    config: &aws_config::SdkConfig,
    table: String,
    local: bool,
) -> Result<DynamoDbStore, crate::Error> {
    let store = DynamoDbStore::new(Client::new(config), table);
    #[cfg(not(feature = "local"))]
    let _ = local;
    #[cfg(feature = "local")]
    if local {
        let created = store.create_table().await.map_err(|err| {
            format!(
                "table {} (LIFT_TABLE_NAME): cannot reach or create the table (is the DynamoDB endpoint, e.g. AWS_ENDPOINT_URL_DYNAMODB, right?): {err}",
                store.table()
            )
        })?;
        if !created {
            tracing::info!(table = %store.table(), "using the existing DynamoDB table");
        }
        return Ok(store);
    }
    tracing::info!(table = %store.table(), "keeping connections in DynamoDB");
    Ok(store)
}
