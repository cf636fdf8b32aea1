//! The DynamoDB store the environment asks for (`LIFT_TABLE_NAME`).

use aws_sdk_dynamodb::Client;

use super::DynamoDbStore;

/// The store `LIFT_TABLE_NAME` asks for when the app runs on the local emulator, if set: a
/// [`DynamoDbStore`] on that table, through the standard AWS configuration (so
/// `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL` point it at a local server). The table is
/// created if it does not exist, and fixed placeholder credentials and region `us-east-1` are
/// used when the environment has none (a local DynamoDB-compatible server accepts any). (In
/// Lambda the store comes from [`with_config`], with the configuration already loaded, and no
/// table is ever created.)
#[cfg(feature = "local")]
pub async fn from_env() -> Result<Option<DynamoDbStore>, crate::Error> {
    let Some(table) = std::env::var("LIFT_TABLE_NAME")
        .ok()
        .filter(|t| !t.is_empty())
    else {
        return Ok(None);
    };
    let config = crate::aws_env::load(true).await;
    with_config(&config, table, true).await.map(Some)
}

/// [`from_env`]'s store on `table`, with an AWS configuration already loaded.
pub(crate) async fn with_config(
    config: &aws_config::SdkConfig,
    table: String,
    local: bool,
) -> Result<DynamoDbStore, crate::Error> {
    let store = DynamoDbStore::new(Client::new(config), table);
    if local {
        let created = store.create_table().await.map_err(|err| {
            format!(
                "LIFT_TABLE_NAME={}: cannot reach or create the table (is the DynamoDB endpoint, e.g. AWS_ENDPOINT_URL_DYNAMODB, right?): {err}",
                store.table()
            )
        })?;
        if !created {
            tracing::info!(table = %store.table(), "using the existing DynamoDB table");
        }
    } else {
        tracing::info!(table = %store.table(), "keeping connections in DynamoDB");
    }
    Ok(store)
}
