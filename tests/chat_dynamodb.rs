//! The chat example switched to DynamoDB by configuration alone: `LIFT_TABLE_NAME` and the
//! SDK's standard `AWS_ENDPOINT_URL_DYNAMODB`, with a real DynamoDB-compatible server.
//!
//! Alone in its test binary: it sets the process environment.

use lift_runtime::store::{ConnectionStore, DynamoDbStore};
use lift_tests::{dynamodb, eventually, start_chat, Client};
use serde_json::json;

#[tokio::test]
async fn the_chat_runs_on_dynamodb_with_configuration_only() {
    let table = dynamodb::table_name("chat");
    std::env::set_var("LIFT_TABLE_NAME", &table);
    std::env::set_var("AWS_ENDPOINT_URL_DYNAMODB", dynamodb::endpoint());

    // The emulator creates the table (it does not exist yet)...
    let emulator = start_chat().await;
    let counter = dynamodb::RequestCounter::default();
    // (Asked by name: a server that has served many runs lists more tables than one page.)
    let described = dynamodb::client(&counter)
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .expect("the emulator created the table");
    assert_eq!(
        described.table().and_then(|t| t.table_name()),
        Some(table.as_str())
    );
    // ...and a second start finds it and uses it.
    let second = start_chat().await;
    drop(second);

    let mut ana = Client::join(&emulator, "ana").await;
    let mut bob = Client::join(&emulator, "bob").await;
    let ana_id = ana.connection_id().await;

    // The connections are in the table, read with a store of our own.
    let store = DynamoDbStore::new(dynamodb::client(&counter), &table);
    let stored = store
        .get(&ana_id)
        .await
        .unwrap()
        .expect("ana is stored in DynamoDB");
    assert_eq!(stored.user.as_deref(), Some("ana"));

    for client in [&mut ana, &mut bob] {
        client
            .send_json(json!({"action": "join", "room": "dyn"}))
            .await;
        assert_eq!(client.recv_json().await["type"], "joined");
    }
    ana.send_json(json!({"action": "sendMessage", "room": "dyn", "text": "stored"}))
        .await;
    let expected = json!({"type": "message", "room": "dyn", "from": "ana", "text": "stored"});
    assert_eq!(bob.recv_json().await, expected);
    assert_eq!(ana.recv_json().await, expected);
    bob.send_json(json!({"action": "sendMessage", "text": "to all"}))
        .await;
    assert_eq!(ana.recv_json().await["text"], "to all");

    ana.close(1000, "bye").await;
    eventually("ana's record and membership are deleted", || async {
        store.get(&ana_id).await.unwrap().is_none()
            && lift_runtime::store::collect(store.members("dyn"))
                .await
                .unwrap()
                .len()
                == 1
    })
    .await;
}
