//! The chat's handlers called directly, without sockets: `TestContext` builds the context each
//! takes (the caller's stored record in a store the test can see) and records the Management
//! API calls it makes. The end-to-end behaviour is in `chat.rs`; these are the unit tests a chat
//! author would write.

use lift_runtime::prelude::*;
use lift_runtime::store::{Connection, ConnectionStore, MemoryStore};
use lift_runtime::testing::{Call, TestContext, TEST_CONNECTION};
use lift_tests::chat_app::{chat, RoomRequest, SendMessage, EVERYONE};
use serde_json::json;

/// A store with `others` (connection id, name) in the everyone-room, as `$connect` leaves them.
async fn store_with(others: &[(&str, &str)]) -> MemoryStore {
    let store = MemoryStore::new();
    for (id, name) in others {
        // Opened a minute ago: a 410 removes only connections past their first 30 s.
        let mut conn = Connection::new(*id, lift_tests::a_minute_ago());
        conn.user = Some((*name).to_owned());
        store.save(&conn).await.unwrap();
        store.join(id, EVERYONE).await.unwrap();
    }
    store
}

#[tokio::test]
async fn connect_takes_the_name_from_the_query_and_joins_everyone() {
    let (mut ctx, calls) = TestContext::connect().query("name", " ana ").build().await;
    chat::connect(&mut ctx).await.unwrap();
    let saved = TestContext::saved(ctx).await.unwrap();
    assert_eq!(saved.user.as_deref(), Some("ana"));
    assert!(saved.rooms.contains(EVERYONE));
    assert!(calls.all().is_empty(), "nothing is sent during $connect");
}

#[tokio::test]
async fn connect_without_a_name_is_refused_with_400() {
    let (mut ctx, _) = TestContext::connect().build().await;
    let err = chat::connect(&mut ctx).await.unwrap_err();
    assert_eq!((err.status(), err.code()), (400, "bad_request"));
}

#[tokio::test]
async fn connect_prefers_the_token_name_claim() {
    let (mut ctx, _) = TestContext::connect()
        .query("name", "ignored")
        .claims(json!({"sub": "u-1", "name": "carol"}))
        .build()
        .await;
    chat::connect(&mut ctx).await.unwrap();
    assert_eq!(
        TestContext::saved(ctx).await.unwrap().user.as_deref(),
        Some("carol")
    );
}

#[tokio::test]
async fn send_message_reaches_everyone_the_sender_included() {
    let store = store_with(&[("b=", "bob"), ("c=", "cy")]).await;
    let (ctx, calls) = TestContext::message("sendMessage", &json!({"text": "hi"}).to_string())
        .user("ana")
        .rooms([EVERYONE])
        .store(store)
        .build()
        .await;
    let msg = SendMessage {
        text: "hi".into(),
        room: None,
    };
    chat::send_message(&ctx, Json(msg)).await.unwrap();
    let expected = json!({"type": "message", "from": "ana", "text": "hi"});
    for id in [TEST_CONNECTION, "b=", "c="] {
        assert_eq!(calls.sent_to(id), std::slice::from_ref(&expected), "{id}");
    }
    // Nobody else: three sends in all.
    assert_eq!(calls.all().len(), 3);
}

#[tokio::test]
async fn send_message_to_a_room_reaches_its_members_only_and_needs_membership() {
    let store = store_with(&[("b=", "bob"), ("c=", "cy")]).await;
    store.join("b=", "rust").await.unwrap();
    let (ctx, calls) = TestContext::message("sendMessage", "")
        .user("ana")
        .rooms([EVERYONE, "rust"])
        .store(store.clone())
        .build()
        .await;
    let msg = SendMessage {
        text: "ownership".into(),
        room: Some("rust".into()),
    };
    chat::send_message(&ctx, Json(msg)).await.unwrap();
    let expected = json!({"type": "message", "room": "rust", "from": "ana", "text": "ownership"});
    assert_eq!(calls.sent_to("b="), [expected]);
    assert!(calls.sent_to("c=").is_empty());

    // Not a member: 403 `not_in_room`, and nothing sent.
    let (ctx, calls) = TestContext::message("sendMessage", "")
        .connection_id("c=")
        .user("cy")
        .store(store)
        .build()
        .await;
    let msg = SendMessage {
        text: "let me in".into(),
        room: Some("rust".into()),
    };
    let err = chat::send_message(&ctx, Json(msg)).await.unwrap_err();
    assert_eq!((err.status(), err.code()), (403, "not_in_room"));
    assert!(calls.all().is_empty());
}

#[tokio::test]
async fn a_broadcast_forgets_connections_that_are_gone() {
    let store = store_with(&[("b=", "bob"), ("gone=", "ghost")]).await;
    let (ctx, calls) = TestContext::message("sendMessage", "")
        .user("ana")
        .rooms([EVERYONE])
        .store(store.clone())
        .gone("gone=")
        .build()
        .await;
    let msg = SendMessage {
        text: "anyone?".into(),
        room: None,
    };
    chat::send_message(&ctx, Json(msg)).await.unwrap();
    assert_eq!(calls.sent_to("b=").len(), 1);
    assert!(
        store.get("gone=").await.unwrap().is_none(),
        "410 removes the record"
    );
}

#[tokio::test]
async fn join_and_leave_answer_and_change_the_stored_rooms() {
    let store = MemoryStore::new();
    let (ctx, calls) = TestContext::message("join", "")
        .user("ana")
        .store(store.clone())
        .build()
        .await;
    let Json(reply) = chat::join(
        &ctx,
        Json(RoomRequest {
            room: "rust".into(),
        }),
    )
    .await
    .unwrap();
    assert_eq!((reply.kind, reply.room.as_str()), ("joined", "rust"));
    assert!(store
        .get(TEST_CONNECTION)
        .await
        .unwrap()
        .unwrap()
        .rooms
        .contains("rust"));

    let Json(reply) = chat::leave(
        &ctx,
        Json(RoomRequest {
            room: "rust".into(),
        }),
    )
    .await
    .unwrap();
    assert_eq!(reply.kind, "left");
    assert!(!store
        .get(TEST_CONNECTION)
        .await
        .unwrap()
        .unwrap()
        .rooms
        .contains("rust"));
    // Reply routes answer with their return value: nothing goes through the Management API.
    assert!(calls.all().is_empty());

    for bad in ["", "$everyone", &"x".repeat(65)] {
        let err = chat::join(&ctx, Json(RoomRequest { room: bad.into() }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "bad_request", "{bad:?}");
    }
}

#[tokio::test]
async fn whoami_answers_the_stored_name_and_refuses_unregistered_callers() {
    let (ctx, _) = TestContext::message("whoami", "").user("ana").build().await;
    let Json(me) = chat::whoami(&ctx).await.unwrap();
    assert_eq!((me.name, me.connection_id), ("ana", TEST_CONNECTION));

    let (ctx, _) = TestContext::message("whoami", "")
        .unregistered()
        .build()
        .await;
    let err = chat::whoami(&ctx).await.unwrap_err();
    assert_eq!((err.status(), err.code()), (500, "internal"));
}

#[tokio::test]
async fn the_recorder_sees_disconnects() {
    let (ctx, calls) = TestContext::message("kick", "").build().await;
    ctx.disconnect("b=").await.unwrap();
    assert_eq!(calls.disconnected(), ["b="]);
    assert_eq!(
        calls.all(),
        [Call::Disconnect {
            connection_id: "b=".into()
        }]
    );
}
