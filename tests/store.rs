//! The connection stores: one conformance suite run against `MemoryStore` and against
//! `DynamoDbStore` on a real DynamoDB-compatible server (moto's, started by `scripts/test`),
//! and the DynamoDB requests each runtime operation costs, counted on the real SDK client.

use lift_runtime::store::MemoryStore;
use lift_tests::{conformance, dynamodb};

macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        mod memory {
            use super::*;
            $(
                #[tokio::test]
                async fn $check() {
                    conformance::$check(&MemoryStore::new().page_size(3)).await;
                }
            )*
        }

        mod dynamo {
            use super::*;
            $(
                #[tokio::test]
                async fn $check() {
                    let (store, _) = dynamodb::store(stringify!($check)).await;
                    conformance::$check(&store.page_size(3)).await;
                }
            )*
        }
    };
}

conformance![
    saves_and_reads_back_a_connection,
    a_connection_without_user_or_metadata_round_trips,
    delete_removes_the_connection_and_its_memberships,
    members_come_in_pages_with_their_users,
    member_pages_read_on_from_cursors,
    join_is_idempotent_and_recorded_on_the_connection,
    save_joined_saves_the_connection_in_its_rooms,
    leave_removes_one_membership,
    join_never_resurrects_a_disconnected_connection,
    expired_records_are_invisible_to_every_read,
    refresh_moves_the_expiry,
    user_connections_finds_every_live_connection_of_a_user,
    remove_many_removes_connections_and_memberships,
    list_returns_every_live_connection,
    sessions_round_trip_and_expire,
    deleting_a_sessions_connection_parks_its_rooms,
    a_session_that_moved_on_is_not_parked_by_its_old_connection,
    remove_many_parks_the_sessions_of_gone_connections,
    history_is_numbered_per_room_and_read_in_order,
    counters_count_per_key_and_window,
    presence_counts_users_not_connections,
    presence_expires_connections_whose_disconnect_never_came,
    presence_follows_a_refreshed_connection,
];

/// Numbers given out at once are distinct and gapless. On the memory store only: on DynamoDB
/// it is `ADD`'s atomicity, which moto's server (threads, no lock around an update) does not
/// reproduce.
#[tokio::test]
async fn history_numbers_are_distinct_under_concurrency() {
    conformance::history_numbers_are_distinct_under_concurrency(&MemoryStore::new()).await;
}

/// An app whose routes touch the store in known ways.
#[lift_runtime::ws_app]
mod counting {
    use lift_runtime::prelude::*;

    /// Joins the rooms `?rooms=a,b` names as it connects.
    #[ws_connect]
    async fn connect(ctx: &mut WsContext) -> WsResult {
        let rooms: Vec<String> = ctx
            .query("rooms")
            .map(|rooms| rooms.split(',').map(str::to_owned).collect())
            .unwrap_or_default();
        for room in rooms {
            ctx.join(&room).await?;
        }
        Ok(())
    }

    /// Says hello to room `h`.
    #[ws_route("shout")]
    async fn shout(ctx: &WsContext) -> WsResult {
        ctx.room("h")
            .broadcast(&serde_json::json!({"type": "hello"}))
            .await?;
        Ok(())
    }

    #[ws_route("ping", reply)]
    async fn ping() -> WsResult<Reply> {
        Ok(Reply::text("pong"))
    }

    #[ws_route("whoami", reply)]
    async fn whoami(ctx: &WsContext) -> WsResult<Reply> {
        let first = ctx.connection().await?.and_then(|c| c.user.clone());
        let again = ctx.connection().await?.and_then(|c| c.user.clone());
        assert_eq!(first, again);
        Ok(Reply::text(first.unwrap_or_default()))
    }
}

#[tokio::test]
async fn dynamodb_requests_per_operation_are_as_documented() {
    use lift_runtime::App;
    use lift_tests::events::{connect_event_for, disconnect_event, message_event};

    lift_tests::init_tracing();
    let (store, counter) = dynamodb::store("counts").await;
    let store = store.page_size(3);
    let service = App::new(counting::router())
        .store(store.clone())
        .settings(lift_tests::endpoint("http://127.0.0.1:9/unused"))
        .service()
        .await
        .expect("the app\'s service");

    // $connect: one write.
    let response = lift_tests::handle_json(&service, connect_event_for("counted=")).await;
    assert_eq!(response.status_code, 200);
    assert_eq!(counter.all(), [("PutItem".to_owned(), 1)].into());

    // $connect joining two rooms: still one request, a transaction of three items.
    counter.reset();
    let mut event = connect_event_for("joined=");
    event["queryStringParameters"]["rooms"] = "lobby,games".into();
    let response = lift_tests::handle_json(&service, event).await;
    assert_eq!(response.status_code, 200);
    assert_eq!(counter.all(), [("TransactWriteItems".to_owned(), 1)].into());
    let joined = {
        use lift_runtime::store::ConnectionStore;
        store.get("joined=").await.unwrap().unwrap()
    };
    assert_eq!(
        joined.rooms.into_iter().collect::<Vec<_>>(),
        ["games", "lobby"]
    );
    counter.reset();

    // A message that does not ask for the caller's identity: no store request at all.
    counter.reset();
    let event = message_event("counted=", "ping", r#"{"action":"ping"}"#);
    lift_tests::handle_json(&service, event).await;
    assert_eq!(counter.total(), 0, "{:?}", counter.all());

    // ctx.connection() twice in one event: read once.
    let event = message_event("counted=", "whoami", r#"{"action":"whoami"}"#);
    lift_tests::handle_json(&service, event).await;
    assert_eq!(counter.all(), [("GetItem".to_owned(), 1)].into());

    // $disconnect of a connection in R = 30 rooms: 1 + ⌈30/25⌉ = 3 requests.
    use lift_runtime::store::ConnectionStore;
    for room in 0..30 {
        store
            .join("counted=", &format!("room{room}"))
            .await
            .unwrap();
    }
    counter.reset();
    let response = lift_tests::handle_json(&service, disconnect_event("counted=")).await;
    assert_eq!(response.status_code, 200);
    assert_eq!(
        counter.all(),
        [
            ("BatchWriteItem".to_owned(), 2),
            ("DeleteItem".to_owned(), 1)
        ]
        .into()
    );
    assert!(lift_runtime::store::collect(store.members("room29"))
        .await
        .unwrap()
        .is_empty());

    // Sessions. A $connect opening one: the session read (none yet), the connection, the
    // session written.
    let session_event = |id: &str| {
        let mut event = connect_event_for(id);
        event["queryStringParameters"]["session"] = "counted-session-0001".into();
        event
    };
    counter.reset();
    let response = lift_tests::handle_json(&service, session_event("s1=")).await;
    assert_eq!(response.status_code, 200);
    assert_eq!(
        counter.all(),
        [("GetItem".to_owned(), 1), ("PutItem".to_owned(), 2)].into()
    );
    // Its $disconnect parks the session: one UpdateItem more.
    counter.reset();
    lift_tests::handle_json(&service, disconnect_event("s1=")).await;
    assert_eq!(
        counter.all(),
        [("DeleteItem".to_owned(), 1), ("UpdateItem".to_owned(), 1)].into()
    );
    // A resume of the parked session: as many as opening one.
    counter.reset();
    lift_tests::handle_json(&service, session_event("s2=")).await;
    assert_eq!(
        counter.all(),
        [("GetItem".to_owned(), 1), ("PutItem".to_owned(), 2)].into()
    );
    // Taking over a session whose connection is still there: its delete (and park), and the
    // session read again.
    counter.reset();
    let response = lift_tests::handle_json(&service, session_event("s3=")).await;
    assert_eq!(response.status_code, 200);
    let counts = counter.all();
    assert_eq!(counts.get("GetItem"), Some(&2), "{counts:?}");
    assert_eq!(counts.get("DeleteItem"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("UpdateItem"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("PutItem"), Some(&2), "{counts:?}");

    // Members of a room of N = 7 with pages of 3: ⌈7/3⌉ = 3 queries.
    for i in 0..7 {
        let id = format!("member{i}=");
        lift_tests::handle_json(&service, connect_event_for(&id)).await;
        store.join(&id, "seven").await.unwrap();
    }
    counter.reset();
    let members = lift_runtime::store::collect(store.members("seven"))
        .await
        .unwrap();
    assert_eq!(members.len(), 7);
    assert_eq!(counter.all(), [("Query".to_owned(), 3)].into());
}

#[tokio::test]
async fn dynamodb_requests_of_history_are_as_documented() {
    use lift_runtime::store::ConnectionStore;
    use lift_runtime::{App, Settings};
    use lift_tests::events::{connect_event_for, message_event};

    lift_tests::init_tracing();
    let (store, counter) = dynamodb::store("history_counts").await;
    let store = store.page_size(3);
    let sink = lift_tests::sink::Sink::default();
    let service = App::new(counting::router())
        .store(store.clone())
        .management_api(sink.connect())
        .settings(Settings {
            history: Some(std::time::Duration::from_secs(60)),
            ..Settings::default()
        })
        .service()
        .await
        .expect("the app's service");
    for id in ["h1=", "h2="] {
        let mut event = connect_event_for(id);
        event["queryStringParameters"]["rooms"] = "h".into();
        lift_tests::handle_json(&service, event).await;
    }
    // A room broadcast with history: the room's counter, the kept message, beside the members'
    // page.
    counter.reset();
    let shout = || message_event("h1=", "shout", r#"{"action":"shout"}"#);
    lift_tests::handle_json(&service, shout()).await;
    assert_eq!(
        counter.all(),
        [
            ("UpdateItem".to_owned(), 1),
            ("PutItem".to_owned(), 1),
            ("Query".to_owned(), 1)
        ]
        .into()
    );
    assert_eq!(
        sink.last("h2=").as_deref(),
        Some(r#"{"type":"hello","room":"h","seq":1}"#)
    );
    lift_tests::handle_json(&service, shout()).await;
    lift_tests::handle_json(&service, shout()).await;
    // A replay of three messages: the caller's record, and one query for the entries and the
    // counter.
    counter.reset();
    let replay = message_event(
        "h2=",
        "lift:replay",
        r#"{"action":"lift:replay","since":{"h":0}}"#,
    );
    lift_tests::handle_json(&service, replay).await;
    assert_eq!(
        counter.all(),
        [("GetItem".to_owned(), 1), ("Query".to_owned(), 1)].into()
    );
    let replayed: serde_json::Value = serde_json::from_str(&sink.last("h2=").unwrap()).unwrap();
    assert_eq!(replayed["type"], "replayed");
    assert_eq!(
        replayed["rooms"]["h"],
        serde_json::json!({"since": 0, "last": 3, "replayed": 3, "missed": false, "more": false})
    );
    assert_eq!(store.history("h", 0, 10).await.unwrap().entries.len(), 3);
}

/// Connections `u00=`.. in two rooms each.
async fn connections_in_two_rooms(
    store: &lift_runtime::store::DynamoDbStore,
    n: usize,
) -> Vec<String> {
    use lift_runtime::store::{Connection, ConnectionStore};
    let mut ids = Vec::new();
    for i in 0..n {
        let id = format!("u{i:02}=");
        store
            .save(&Connection::new(&id, std::time::SystemTime::now()))
            .await
            .unwrap();
        store.join(&id, "lobby").await.unwrap();
        store.join(&id, "games").await.unwrap();
        ids.push(id);
    }
    ids
}

#[tokio::test]
async fn remove_many_retries_what_dynamodb_leaves_unprocessed() {
    use lift_runtime::store::{collect, ConnectionStore};

    // The first BatchGetItem and the first two BatchWriteItems come back half unprocessed.
    let faults = dynamodb::Unprocessed::new(1, 2);
    let (store, counter) = dynamodb::store_with("unprocessed", faults.clone()).await;
    let ids = connections_in_two_rooms(&store, 30).await;
    counter.reset();

    // 28 gone: 28 reads, then 28 connections + 56 memberships = 84 deletes in batches of 25.
    store.remove_many(&ids[..28]).await.unwrap();
    // Reads: 14 of 28 held back once → 2 requests. Writes: the first batch of 25 sends 13 and
    // gets 12 back, then sends 6 of those and gets 6 back, then the rest: 3 requests for it,
    // 1 for each of the other three batches.
    assert_eq!(faults.injected(), 14 + 12 + 6);
    assert_eq!(
        counter.all(),
        [
            ("BatchGetItem".to_owned(), 2),
            ("BatchWriteItem".to_owned(), 6)
        ]
        .into()
    );

    assert_eq!(conformance::live_ids(&store).await, ["u28=", "u29="]);
    for room in ["lobby", "games"] {
        let members: Vec<String> = collect(store.members(room))
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.connection_id)
            .collect();
        assert_eq!(members, ["u28=", "u29="], "{room}");
    }
}

#[tokio::test]
async fn a_batch_that_stays_unprocessed_fails_with_a_clear_error() {
    use lift_runtime::store::ConnectionStore;

    let (store, counter) = dynamodb::store_with("never", dynamodb::Unprocessed::always()).await;
    let ids = connections_in_two_rooms(&store, 2).await;
    counter.reset();

    // Nothing is ever processed as far as the store can tell: it gives up after 8 retries of
    // the reads, with an error that says so, instead of looping for ever.
    let err = store.remove_many(&ids).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("2 reads stayed unprocessed after 9 attempts"),
        "{err}"
    );
    assert_eq!(counter.all(), [("BatchGetItem".to_owned(), 9)].into());

    // The same for deletes (a connection's own delete writes its memberships in a batch).
    counter.reset();
    let err = store.delete(&ids[0]).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("2 deletes stayed unprocessed after 9 attempts"),
        "{err}"
    );
    assert_eq!(counter.get("BatchWriteItem"), 9);
}
