//! Presence (`Settings::presence`): with real WebSocket clients on the emulator running the chat,
//! on the memory store and on a DynamoDB-compatible server, three users, one of them on two
//! connections, are announced `joined` and `left` exactly once each, per room; `users` lists
//! each once. Through the Lambda path: a connection whose `$disconnect` never comes leaves by its
//! expiry (the scheduled sweep), and one a broadcast finds gone (410) leaves at once.

use std::time::Duration;

use lift_runtime::store::{ConnectionStore, MemoryStore};
use lift_runtime::testing::{Event, TestClient};
use lift_runtime::{App, LambdaResponse, Settings};
use lift_tests::chat_app::chat;
use lift_tests::sink::Sink;
use serde_json::{json, Value};

const QUIET: Duration = Duration::from_millis(400);

fn with_presence() -> Settings {
    Settings {
        presence: true,
        ..Settings::default()
    }
}

/// Every frame until `QUIET` passes without one.
async fn drain(client: &mut TestClient) -> Vec<Value> {
    let mut frames = Vec::new();
    while let Ok(frame) = tokio::time::timeout(QUIET, client.recv_json()).await {
        frames.push(frame);
    }
    frames
}

/// The presence frames among `frames`, as `(room, user, state)`.
fn presence(frames: &[Value]) -> Vec<(String, String, String)> {
    frames
        .iter()
        .filter(|f| f["type"] == "presence")
        .map(|f| {
            let field = |name: &str| f[name].as_str().unwrap().to_owned();
            (field("room"), field("user"), field("state"))
        })
        .collect()
}

fn seen(list: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    list.iter()
        .map(|(r, u, s)| (r.to_string(), u.to_string(), s.to_string()))
        .collect()
}

async fn users(client: &mut TestClient, room: Option<&str>) -> Value {
    let ask = match room {
        Some(room) => json!({"action": "users", "room": room}),
        None => json!({"action": "users"}),
    };
    client.send_json(&ask).await;
    let reply = client.recv_json().await;
    assert_eq!(reply["type"], "users", "{reply}");
    reply["users"].clone()
}

async fn each_user_is_announced_once(store: impl ConnectionStore) {
    const ALL: &str = "$everyone";
    let app = lift_tests::start(
        App::new(chat::router())
            .store(store)
            .settings(with_presence()),
    )
    .await;
    let mut phone = app.connect("/?name=ana").await;
    let mut bob = app.connect("/?name=bob").await;
    assert_eq!(
        presence(&drain(&mut phone).await),
        seen(&[(ALL, "bob", "joined")])
    );
    assert!(
        presence(&drain(&mut bob).await).is_empty(),
        "not told of itself"
    );

    // ana's second connection: she is there already, nobody is told.
    let mut laptop = app.connect("/?name=ana").await;
    let mut cy = app.connect("/?name=cy").await;
    for client in [&mut phone, &mut bob] {
        assert_eq!(
            presence(&drain(client).await),
            seen(&[(ALL, "cy", "joined")])
        );
    }
    assert_eq!(
        presence(&drain(&mut laptop).await),
        seen(&[(ALL, "cy", "joined")])
    );
    assert_eq!(users(&mut cy, None).await, json!(["ana", "bob", "cy"]));

    // A room of its own: joined and left per room, by `join` and `leave`.
    for client in [&mut bob, &mut cy] {
        client
            .send_json(&json!({"action": "join", "room": "x"}))
            .await;
        assert_eq!(client.recv_json().await["type"], "joined");
    }
    assert_eq!(
        presence(&drain(&mut bob).await),
        seen(&[("x", "cy", "joined")])
    );
    assert_eq!(users(&mut bob, Some("x")).await, json!(["bob", "cy"]));
    bob.send_json(&json!({"action": "leave", "room": "x"}))
        .await;
    assert_eq!(bob.recv_json().await["type"], "left");
    assert_eq!(
        presence(&drain(&mut cy).await),
        seen(&[("x", "bob", "left")])
    );

    // ana's phone goes: she is still there (laptop). Then the laptop: she left, once.
    phone.close(1000, "bye").await;
    for client in [&mut bob, &mut cy, &mut laptop] {
        assert!(presence(&drain(client).await).is_empty());
    }
    laptop.close(1000, "bye").await;
    for client in [&mut bob, &mut cy] {
        assert_eq!(
            presence(&drain(client).await),
            seen(&[(ALL, "ana", "left")])
        );
    }
    assert_eq!(users(&mut bob, None).await, json!(["bob", "cy"]));
    // cy's disconnect: bob is told, the room `x` (cy alone) has nobody left to tell.
    cy.close(1000, "bye").await;
    assert_eq!(
        presence(&drain(&mut bob).await),
        seen(&[(ALL, "cy", "left")])
    );
    assert_eq!(users(&mut bob, Some("x")).await, json!([]));
    app.shutdown().await;
}

#[tokio::test]
async fn each_user_is_announced_once_on_the_memory_store() {
    each_user_is_announced_once(MemoryStore::new()).await;
}

#[tokio::test]
async fn each_user_is_announced_once_on_dynamodb() {
    let (store, _) = lift_tests::dynamodb::store("presence").await;
    each_user_is_announced_once(store).await;
}

/// Two instances of the chat on one store and one Management API: `short` keeps connections
/// 2 s (their `$disconnect` never comes), `long` the default.
async fn instances(
    store: impl ConnectionStore + Clone,
) -> (lift_runtime::Service, lift_runtime::Service, Sink) {
    let sink = Sink::default();
    let instance = |ttl: Option<Duration>| {
        let mut settings = with_presence();
        if let Some(ttl) = ttl {
            settings.connection_ttl = ttl;
        }
        App::new(chat::router())
            .store(store.clone())
            .management_api(sink.connect())
            .settings(settings)
            .service()
    };
    let short = instance(Some(Duration::from_secs(2))).await.unwrap();
    let long = instance(None).await.unwrap();
    (short, long, sink)
}

async fn connect(service: &lift_runtime::Service, id: &str, name: &str) {
    let event = Event::connect(id).query("name", name).build();
    assert_eq!(
        lift_tests::handle_json(service, event).await.status_code,
        200
    );
}

async fn connections_that_never_disconnect_leave(store: impl ConnectionStore + Clone) {
    let (short, long, sink) = instances(store).await;
    connect(&long, "watch=", "watcher").await;
    connect(&short, "ghost=", "ghost").await;
    let last = |id: &str| serde_json::from_str::<Value>(&sink.last(id).unwrap()).unwrap();
    assert_eq!(
        last("watch="),
        json!({"type": "presence", "room": "$everyone", "user": "ghost", "state": "joined"})
    );
    let sweep = json!({"liftTask": "presence-sweep", "managementEndpoint": "https://abc.execute-api.eu-west-1.amazonaws.com/prod"});
    // Nothing expired yet.
    let done = long.handle(sweep.clone()).await;
    assert!(matches!(done, LambdaResponse::Task(_)), "{done:?}");
    assert_eq!(sink.delivered("watch="), 1);
    // The ghost's connection expires (its `$disconnect` never came): the sweep makes it leave.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    long.handle(sweep.clone()).await;
    assert_eq!(
        last("watch="),
        json!({"type": "presence", "room": "$everyone", "user": "ghost", "state": "left"})
    );
    assert_eq!(sink.delivered("watch="), 2);
    long.handle(sweep).await;
    assert_eq!(sink.delivered("watch="), 2, "once");

    // A broadcast finds a connection gone (410): its user leaves at once (past its first 30 s:
    // a younger one may still be in its `$connect`).
    let event = Event::connect("vic=")
        .query("name", "vic")
        .connected_at(lift_tests::a_minute_ago())
        .build();
    assert_eq!(lift_tests::handle_json(&long, event).await.status_code, 200);
    assert_eq!(sink.delivered("watch="), 3, "vic joined");
    sink.gone("vic=");
    let say = Event::message(
        "watch=",
        "sendMessage",
        r#"{"action":"sendMessage","text":"hi"}"#,
    )
    .build();
    lift_tests::handle_json(&long, say).await;
    assert_eq!(
        last("watch="),
        json!({"type": "presence", "room": "$everyone", "user": "vic", "state": "left"})
    );
    assert_eq!(sink.delivered("watch="), 5, "the message, then vic left");
}

#[tokio::test]
async fn connections_that_never_disconnect_leave_on_the_memory_store() {
    connections_that_never_disconnect_leave(MemoryStore::new()).await;
}

#[tokio::test]
async fn connections_that_never_disconnect_leave_on_dynamodb() {
    let (store, _) = lift_tests::dynamodb::store("presence-ttl").await;
    connections_that_never_disconnect_leave(store).await;
}
