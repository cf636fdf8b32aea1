//! The chat example's protocol, end to end: real WebSocket clients against the local emulator.

use lift_tests::{eventually, start_chat, Client};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn every_connection_receives_a_message_the_sender_included() {
    let emulator = start_chat().await;
    let mut ana = Client::join(&emulator, "ana").await;
    let mut bob = Client::join(&emulator, "bob").await;
    let mut cy = Client::join(&emulator, "cy").await;

    ana.send_json(json!({"action": "sendMessage", "text": "hello, all"}))
        .await;
    let expected = json!({"type": "message", "from": "ana", "text": "hello, all"});
    assert_eq!(ana.recv_json().await, expected);
    assert_eq!(bob.recv_json().await, expected);
    assert_eq!(cy.recv_json().await, expected);

    bob.send_json(json!({"action": "sendMessage", "text": "hi ana ☕"}))
        .await;
    let expected = json!({"type": "message", "from": "bob", "text": "hi ana ☕"});
    for client in [&mut ana, &mut bob, &mut cy] {
        assert_eq!(client.recv_json().await, expected);
    }
}

#[tokio::test]
async fn a_connection_without_a_name_is_refused_and_not_stored() {
    let emulator = start_chat().await;
    let status = Client::try_connect(&emulator.url()).await.err();
    assert_eq!(status, Some(400));
    let status = Client::try_connect(&format!("{}/?name=", emulator.url()))
        .await
        .err();
    assert_eq!(status, Some(400));
    assert!(emulator.store().list().await.unwrap().is_empty());
    assert!(emulator.connection_ids().is_empty());
}

#[tokio::test]
async fn whoami_replies_with_the_name_and_the_stored_connection_id() {
    let emulator = start_chat().await;
    let mut ana = Client::join(&emulator, "ana%20maria").await;
    let reply = ana.whoami().await;
    assert_eq!(reply["name"], "ana maria");
    let id = reply["connectionId"].as_str().unwrap();
    let stored = emulator.store().get(id).await.unwrap().unwrap();
    assert_eq!(stored.user.as_deref(), Some("ana maria"));
    assert_eq!(reply.as_object().unwrap().len(), 3, "{reply}");
}

#[tokio::test]
async fn a_bad_send_message_gets_an_error_frame_for_the_sender_only() {
    let emulator = start_chat().await;
    let mut ana = Client::join(&emulator, "ana").await;
    let mut bob = Client::join(&emulator, "bob").await;

    for bad in [
        json!({"action": "sendMessage"}),
        json!({"action": "sendMessage", "text": 42}),
        json!({"action": "sendMessage", "text": null}),
    ] {
        ana.send_json(bad.clone()).await;
        let frame = ana.recv_json().await;
        assert_eq!(frame["type"], "error", "{bad} => {frame}");
        assert_eq!(frame["code"], "invalid_body", "{bad} => {frame}");
        assert!(
            frame["message"].as_str().unwrap().contains("text"),
            "{frame}"
        );
    }
    // Bob got none of those: the next frame he sees is the next real message.
    ana.send_json(json!({"action": "sendMessage", "text": "ok now"}))
        .await;
    assert_eq!(bob.recv_json().await["text"], "ok now");
    assert_eq!(ana.recv_json().await["text"], "ok now");
}

#[tokio::test]
async fn anything_else_gets_an_error_frame_and_the_connection_stays_open() {
    let emulator = start_chat().await;
    let mut ana = Client::join(&emulator, "ana").await;

    let inputs = [
        Message::text(r#"{"action":"dance"}"#),
        Message::text(r#"{"no":"action"}"#),
        Message::text("not json at all"),
        Message::text(r#"{"action":"$connect"}"#),
        Message::text(r#"{"action":["sendMessage"]}"#),
    ];
    for input in inputs {
        ana.send(input.clone()).await;
        let frame = ana.recv_json().await;
        assert_eq!(frame["type"], "error", "{input:?} => {frame}");
        assert_eq!(frame["code"], "unknown_route", "{input:?} => {frame}");
    }
    assert_eq!(ana.whoami().await["name"], "ana");
}

#[tokio::test]
async fn an_oversized_message_closes_the_connection_with_1009_as_api_gateway_does() {
    let emulator = start_chat().await;
    let store = emulator.store().clone();
    let mut bob = Client::join(&emulator, "bob").await;
    // One frame over 32 KB (a browser sends each message as one frame), then a message over
    // 128 KB: API Gateway closes the connection with 1009 either way.
    for size in [40 * 1024, 129 * 1024] {
        let mut ana = Client::join(&emulator, "ana").await;
        let id = ana.connection_id().await;
        ana.send_json(json!({"action": "sendMessage", "text": "x".repeat(size)}))
            .await;
        assert_eq!(
            ana.closed().await,
            (1009, "Message too big".to_owned()),
            "{size}"
        );
        eventually("the closed connection is forgotten", || async {
            store.get(&id).await.unwrap().is_none()
        })
        .await;
    }
    // The others keep going.
    bob.send_json(json!({"action": "sendMessage", "text": "small"}))
        .await;
    assert_eq!(bob.recv_json().await["text"], "small");
}

#[tokio::test]
async fn a_text_frame_that_is_not_utf8_closes_the_connection_with_1007() {
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    let emulator = start_chat().await;
    let mut ana = Client::join(&emulator, "ana").await;
    let frame = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
    ana.send(Message::Frame(frame)).await;
    assert_eq!(ana.closed().await.0, 1007);
    let mut bob = Client::join(&emulator, "bob").await;
    assert_eq!(bob.whoami().await["name"], "bob");
}

#[tokio::test]
async fn lenient_limits_answer_an_error_frame_and_keep_the_connection_open() {
    let mut settings = lift_runtime::Settings::default();
    settings.local.lenient_limits = true;
    let app = lift_runtime::App::new(lift_tests::chat_app::chat::router()).settings(settings);
    let emulator = lift_tests::start(app).await;
    let mut ana = Client::join(&emulator, "ana").await;
    let text = "x".repeat(128 * 1024);
    ana.send_json(json!({"action": "sendMessage", "text": text}))
        .await;
    let frame = ana.recv_json().await;
    assert_eq!(frame["code"], "message_too_large", "{frame}");
    ana.send_json(json!({"action": "sendMessage", "text": "small"}))
        .await;
    assert_eq!(ana.recv_json().await["text"], "small");
}

#[tokio::test]
async fn disconnect_removes_the_connection_from_the_store() {
    let emulator = start_chat().await;
    let mut ana = Client::join(&emulator, "ana").await;
    let mut bob = Client::join(&emulator, "bob").await;
    let ana_id = ana.connection_id().await;
    let store = emulator.store().clone();
    assert!(store.get(&ana_id).await.unwrap().is_some());

    ana.close(4000, "bye").await;
    eventually("ana's record is deleted", || async {
        store.get(&ana_id).await.unwrap().is_none()
    })
    .await;
    // The others keep chatting, and nothing is sent to the closed connection.
    bob.send_json(json!({"action": "sendMessage", "text": "still here"}))
        .await;
    assert_eq!(bob.recv_json().await["text"], "still here");
    assert_eq!(store.list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn room_messages_reach_exactly_the_members() {
    let emulator = start_chat().await;
    let mut ana = Client::join(&emulator, "ana").await;
    let mut bob = Client::join(&emulator, "bob").await;
    let mut cy = Client::join(&emulator, "cy").await;

    for client in [&mut ana, &mut bob] {
        client
            .send_json(json!({"action": "join", "room": "red"}))
            .await;
        assert_eq!(
            client.recv_json().await,
            json!({"type": "joined", "room": "red"})
        );
    }
    ana.send_json(json!({"action": "sendMessage", "room": "red", "text": "psst"}))
        .await;
    let expected = json!({"type": "message", "room": "red", "from": "ana", "text": "psst"});
    assert_eq!(ana.recv_json().await, expected);
    assert_eq!(bob.recv_json().await, expected);
    // Cy is not in the room: the next frame he gets is the next message to everyone.
    bob.send_json(json!({"action": "sendMessage", "text": "hello all"}))
        .await;
    let everyone = json!({"type": "message", "from": "bob", "text": "hello all"});
    assert_eq!(cy.recv_json().await, everyone);
    assert_eq!(ana.recv_json().await, everyone);
    assert_eq!(bob.recv_json().await, everyone);
}

#[tokio::test]
async fn leaving_a_room_stops_its_messages() {
    let emulator = start_chat().await;
    let mut ana = Client::join(&emulator, "ana").await;
    let mut bob = Client::join(&emulator, "bob").await;
    for client in [&mut ana, &mut bob] {
        client
            .send_json(json!({"action": "join", "room": "blue"}))
            .await;
        client.recv_json().await;
    }
    bob.send_json(json!({"action": "leave", "room": "blue"}))
        .await;
    assert_eq!(
        bob.recv_json().await,
        json!({"type": "left", "room": "blue"})
    );

    ana.send_json(json!({"action": "sendMessage", "room": "blue", "text": "anyone?"}))
        .await;
    assert_eq!(ana.recv_json().await["text"], "anyone?");
    // Bob left: his next frame is the error for sending to a room he is no longer in.
    bob.send_json(json!({"action": "sendMessage", "room": "blue", "text": "me?"}))
        .await;
    let frame = bob.recv_json().await;
    assert_eq!(
        (frame["type"].as_str(), frame["code"].as_str()),
        (Some("error"), Some("not_in_room")),
        "{frame}"
    );
}

#[tokio::test]
async fn sending_to_a_room_not_joined_or_a_bad_room_is_an_error_frame() {
    let emulator = start_chat().await;
    let mut ana = Client::join(&emulator, "ana").await;
    ana.send_json(json!({"action": "sendMessage", "room": "green", "text": "hi"}))
        .await;
    assert_eq!(ana.recv_json().await["code"], "not_in_room");

    for bad in [
        json!({"action": "join"}),
        json!({"action": "join", "room": 7}),
        json!({"action": "join", "room": ""}),
        json!({"action": "leave", "room": "x".repeat(65)}),
    ] {
        ana.send_json(bad.clone()).await;
        let frame = ana.recv_json().await;
        assert_eq!(frame["type"], "error", "{bad} => {frame}");
    }
    assert_eq!(ana.whoami().await["name"], "ana");
}
