//! Room history and replay, with real WebSocket clients on the emulator: in a room with history
//! on, 1,000 messages are said while one member is forced off 20 times and more (its
//! connection closed through the emulator's `@connections` DELETE by the real SDK client, by
//! the emulator's maximum connection age set short, and by dropping the socket); it comes back
//! each time with its session and asks for what it missed (`lift:replay`), as the generated
//! client does, and gets every message in order, each once. On the memory store and on a
//! DynamoDB-compatible server.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use lift_runtime::store::{ConnectionStore, MemoryStore};
use lift_runtime::testing::TestApp;
use lift_runtime::{App, Settings};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

const MESSAGES: u64 = 1_000;
const SESSION: &str = "member-session-0123456789";

#[lift_runtime::ws_app]
mod feed {
    use std::collections::HashSet;
    use std::sync::Mutex;

    use lift_runtime::prelude::*;
    use serde::Deserialize;

    /// What was said already, by run: a sender that lost its connection says it again.
    static SAID: Mutex<Option<HashSet<(String, u64)>>> = Mutex::new(None);

    /// `{"action":"say","run":"...","n":N}`.
    #[derive(Deserialize)]
    pub struct Say {
        run: String,
        n: u64,
    }

    /// Members join the feed.
    #[ws_connect]
    async fn connect(ctx: &mut WsContext) -> WsResult {
        if ctx.query("member").is_some() {
            ctx.join("feed").await?;
        }
        Ok(())
    }

    /// Posts `n` to the feed, once per run and number; answers when it has.
    #[ws_route("say", reply)]
    async fn say(ctx: &WsContext, Json(say): Json<Say>) -> WsResult<Reply> {
        let key = (say.run.clone(), say.n);
        let first = SAID
            .lock()
            .unwrap()
            .get_or_insert_with(HashSet::new)
            .insert(key.clone());
        if first {
            let post = serde_json::json!({"type": "post", "n": say.n});
            if let Err(err) = ctx.room("feed").broadcast(&post).await {
                SAID.lock()
                    .unwrap()
                    .get_or_insert_with(HashSet::new)
                    .remove(&key);
                return Err(err.into());
            }
        }
        Ok(Reply::text(format!(r#"{{"type":"said","n":{}}}"#, say.n)))
    }
}

/// What the member saw.
#[derive(Debug, Default)]
struct Seen {
    /// The numbers said, in the order the member took them.
    delivered: Vec<u64>,
    /// The feed's sequence numbers taken.
    seqs: BTreeSet<u64>,
    /// Every number up to this one was taken.
    contiguous: u64,
    /// Why its connections ended: `deleted`, `aged`, `dropped`.
    ended: BTreeMap<&'static str, usize>,
    /// Replays that said messages were missed.
    missed: usize,
    /// Frames the replays sent.
    replayed: u64,
    /// Replays refused because their connection was already gone.
    replay_errors: usize,
    /// Frames received.
    frames: usize,
}

impl Seen {
    fn take(&mut self, seq: u64, n: u64) {
        if self.seqs.insert(seq) {
            self.delivered.push(n);
            while self.seqs.contains(&(self.contiguous + 1)) {
                self.contiguous += 1;
            }
        }
    }
}

/// The member: connects with its session, and after each reconnect asks for what it missed,
/// holding live posts back until the replay is done (what the generated client does).
async fn member(
    url: String,
    seen: Arc<Mutex<Seen>>,
    mut drop_now: mpsc::Receiver<()>,
    mut stop: watch::Receiver<bool>,
) {
    let mut first = true;
    loop {
        let (mut ws, _) = match tokio_tungstenite::connect_async(&url).await {
            Ok(connected) => connected,
            Err(err) => {
                tracing::warn!(error = %err, "the member could not connect; again");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let mut replaying = false;
        let ask = |since: u64| {
            Message::text(
                json!({"action": "lift:replay", "since": {"feed": since}, "requestId": 1})
                    .to_string(),
            )
        };
        if !first {
            let since = seen.lock().unwrap().contiguous;
            if ws.send(ask(since)).await.is_err() {
                continue;
            }
            replaying = true;
        }
        first = false;
        let mut held: Vec<(u64, u64)> = Vec::new();
        let ended = loop {
            tokio::select! {
                _ = stop.changed() => return,
                Some(()) = drop_now.recv() => break "dropped",
                next = ws.next() => match next {
                    Some(Ok(Message::Text(text))) => {
                        let frame: Value = serde_json::from_str(&text).unwrap();
                        // What to ask next, decided under the lock and sent after it.
                        let again = {
                            let mut seen = seen.lock().unwrap();
                            seen.frames += 1;
                            match frame["type"].as_str() {
                                Some("post") => {
                                    assert_eq!(frame["room"], "feed", "{frame}");
                                    let seq = frame["seq"].as_u64().expect("a numbered post");
                                    let n = frame["n"].as_u64().unwrap();
                                    if replaying {
                                        held.push((seq, n));
                                    } else {
                                        seen.take(seq, n);
                                    }
                                    None
                                }
                                Some("replayed") => {
                                    assert_eq!(frame["requestId"], 1, "{frame}");
                                    let report = &frame["rooms"]["feed"];
                                    held.sort_unstable();
                                    for (seq, n) in held.drain(..) {
                                        seen.take(seq, n);
                                    }
                                    if report["missed"] == true {
                                        seen.missed += 1;
                                    }
                                    seen.replayed += report["replayed"].as_u64().unwrap();
                                    if report["more"] == true {
                                        Some(seen.contiguous)
                                    } else {
                                        replaying = false;
                                        None
                                    }
                                }
                                // A replay racing the end of its connection (a DELETE right
                                // after the handshake) finds it gone: asked again, unless the
                                // close comes first.
                                Some("error") if frame["code"] == "not_found" && replaying => {
                                    seen.replay_errors += 1;
                                    Some(seen.contiguous)
                                }
                                _ => panic!("the member got {frame}"),
                            }
                        };
                        if let Some(since) = again {
                            if ws.send(ask(since)).await.is_err() {
                                break "ended";
                            }
                        }
                    }
                    Some(Ok(Message::Close(frame))) => {
                        break match frame.map(|f| u16::from(f.code)) {
                            Some(1001) => "aged",
                            _ => "deleted",
                        };
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break "ended",
                },
            }
        };
        // Held posts are not lost: the replay of the next connection sends them again.
        *seen.lock().unwrap().ended.entry(ended).or_default() += 1;
    }
}

/// The id of the member's newest connection.
async fn member_connection(store: &impl ConnectionStore) -> String {
    for _ in 0..500 {
        let newest = store
            .list()
            .await
            .unwrap()
            .into_iter()
            .filter(|c| c.session.as_deref() == Some(SESSION))
            .max_by_key(|c| c.connected_at);
        if let Some(connection) = newest {
            return connection.id;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the member never connected");
}

fn management_client(endpoint: &str) -> aws_sdk_apigatewaymanagement::Client {
    use aws_sdk_apigatewaymanagement::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_apigatewaymanagement::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "test"))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_apigatewaymanagement::Client::from_conf(config)
}

/// Says `n` from a sender of its own, which opens a new connection when its last one ended
/// (the short maximum age ends them too) and says again what it had not heard back about.
struct Sender {
    url: String,
    run: String,
    ws: Option<
        tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
    >,
}

impl Sender {
    async fn say(&mut self, n: u64) {
        loop {
            if self.ws.is_none() {
                match tokio_tungstenite::connect_async(&self.url).await {
                    Ok((ws, _)) => self.ws = Some(ws),
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                }
            }
            let ws = self.ws.as_mut().unwrap();
            let say = json!({"action": "say", "run": self.run, "n": n}).to_string();
            if ws.send(Message::text(say)).await.is_ok() {
                let answer = tokio::time::timeout(Duration::from_secs(10), async {
                    while let Some(Ok(message)) = ws.next().await {
                        if let Message::Text(text) = message {
                            let frame: Value = serde_json::from_str(&text).unwrap();
                            assert_eq!(frame["type"], "said", "{frame}");
                            if frame["n"] == n {
                                return true;
                            }
                        }
                    }
                    false
                })
                .await;
                if answer == Ok(true) {
                    return;
                }
            }
            self.ws = None;
        }
    }
}

async fn member_gets_every_message_in_order_across_reconnects(
    store: impl ConnectionStore + Clone,
    run: &str,
) {
    let mut settings = Settings {
        history: Some(Duration::from_secs(300)),
        ..Settings::default()
    };
    // Connections end by themselves after a second.
    settings.local.max_lifetime = Duration::from_millis(1_000);
    let app: TestApp = lift_tests::start(
        App::new(feed::router())
            .store(store.clone())
            .settings(settings),
    )
    .await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (drop_tx, drop_rx) = mpsc::channel(1);
    let (stop_tx, stop_rx) = watch::channel(false);
    let member_task = tokio::spawn(member(
        format!("{}/?member=1&session={SESSION}", app.url()),
        seen.clone(),
        drop_rx,
        stop_rx,
    ));
    // The member is in the feed before anything is said.
    lift_tests::eventually("the member joined", || async {
        store
            .list()
            .await
            .unwrap()
            .iter()
            .any(|c| c.session.as_deref() == Some(SESSION) && c.rooms.contains("feed"))
    })
    .await;
    let management = management_client(&app.management_endpoint());
    let mut sender = Sender {
        url: format!("{}/", app.url()),
        run: run.to_owned(),
        ws: None,
    };
    // The member is forced off: by a DELETE every 40 messages for the first third, by dropping
    // its socket for the second, and by its maximum age (a second) for the last, said slowly.
    for n in 1..=MESSAGES {
        sender.say(n).await;
        let third = (n - 1) * 3 / MESSAGES;
        if third < 2 && n % 40 == 20 {
            let current = member_connection(&store).await;
            if third == 0 {
                // Gone already, when its age ended it at the same moment.
                let deleted = management
                    .delete_connection()
                    .connection_id(&current)
                    .send()
                    .await;
                if let Err(err) = deleted {
                    use aws_sdk_apigatewaymanagement::error::ProvideErrorMetadata;
                    assert_eq!(err.code(), Some("GoneException"), "{err:?}");
                }
            } else {
                drop_tx.send(()).await.unwrap();
            }
            // Back before it is forced off again.
            lift_tests::eventually("the member reconnected", || async {
                member_connection(&store).await != current
            })
            .await;
        } else if third == 2 {
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
    }
    let expected: Vec<u64> = (1..=MESSAGES).collect();
    for _ in 0..600 {
        if seen.lock().unwrap().delivered.len() >= expected.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop_tx.send(true);
    member_task.await.unwrap();
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let ended: usize = seen.ended.values().sum();
    assert!(
        ended >= 20,
        "the member was forced off {ended} times only: {:?}",
        seen.ended
    );
    for cause in ["deleted", "aged", "dropped"] {
        assert!(
            seen.ended.get(cause).copied().unwrap_or(0) >= 3,
            "too few connections {cause}: {:?}",
            seen.ended
        );
    }
    assert_eq!(seen.missed, 0, "nothing was older than the history");
    assert!(seen.replayed > 0, "no replay sent anything: {seen:?}");
    eprintln!(
        "connections ended {:?}; {} frames replayed; {} replays refused",
        seen.ended, seen.replayed, seen.replay_errors
    );
    if seen.delivered != expected {
        let missing: Vec<_> = expected
            .iter()
            .filter(|n| !seen.delivered.contains(n))
            .collect();
        panic!(
            "{} delivered of {MESSAGES}; missing {missing:?}; first out of order at {:?}",
            seen.delivered.len(),
            seen.delivered.windows(2).position(|w| w[1] != w[0] + 1)
        );
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_arrives_once_in_order_across_20_reconnects_on_the_memory_store() {
    member_gets_every_message_in_order_across_reconnects(MemoryStore::new(), "memory").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_arrives_once_in_order_across_20_reconnects_on_dynamodb() {
    let (store, _) = lift_tests::dynamodb::store("history_reconnects").await;
    member_gets_every_message_in_order_across_reconnects(store, "dynamodb").await;
}

/// What a replay answers when the history no longer has everything, and to requests it cannot
/// take: error frames, and the connection stays.
#[tokio::test]
async fn a_replay_says_what_is_gone_and_refuses_what_it_cannot_read() {
    let settings = Settings {
        history: Some(Duration::from_millis(2_500)),
        ..Settings::default()
    };
    let app = lift_tests::start(App::new(feed::router()).settings(settings)).await;
    let mut member = app.connect("/?member=1").await;
    let mut sender = app.connect("/").await;
    let say = |n: u64| json!({"action": "say", "run": "gone", "n": n});
    for n in 1..=3 {
        sender.send_json(&say(n)).await;
        assert_eq!(sender.recv_json().await["type"], "said");
        assert_eq!(member.recv_json().await["seq"], n);
    }
    // Messages 1 to 3 expire; 4 and 5 are kept.
    tokio::time::sleep(Duration::from_millis(2_600)).await;
    for n in 4..=5 {
        sender.send_json(&say(n)).await;
        assert_eq!(sender.recv_json().await["type"], "said");
        assert_eq!(member.recv_json().await["seq"], n);
    }
    member
        .send_json(&json!({"action": "lift:replay", "since": {"feed": 1, "elsewhere": 0}}))
        .await;
    for n in 4..=5 {
        let frame = member.recv_json().await;
        assert_eq!(
            (frame["n"].as_u64(), frame["seq"].as_u64()),
            (Some(n), Some(n))
        );
    }
    assert_eq!(
        member.recv_json().await,
        json!({"type": "replayed", "rooms": {"feed": {
            "since": 1, "last": 5, "replayed": 2, "missed": true, "more": false
        }}}),
        "what is kept, and that older messages are gone; a room the caller is not in is left out"
    );
    // A `since` past the room's last number (its numbering started again): all that is kept.
    member
        .send_json(&json!({"action": "lift:replay", "since": 99, "requestId": "r"}))
        .await;
    assert_eq!(member.recv_json().await["seq"], 4);
    assert_eq!(member.recv_json().await["seq"], 5);
    let done = member.recv_json().await;
    assert_eq!(done["rooms"]["feed"]["missed"], true, "{done}");
    assert_eq!(done["requestId"], "r");
    // Requests it cannot read: an error frame each, and the connection goes on.
    for bad in [
        json!({"action": "lift:replay"}),
        json!({"action": "lift:replay", "since": "yesterday"}),
        json!({"action": "lift:replay", "since": {"feed": -1}}),
    ] {
        member.send_json(&bad).await;
        let frame = member.recv_json().await;
        assert_eq!(
            (frame["type"].as_str(), frame["code"].as_str()),
            (Some("error"), Some("bad_request")),
            "{bad} -> {frame}"
        );
    }
    sender.send_json(&say(6)).await;
    assert_eq!(member.recv_json().await["seq"], 6);
    app.shutdown().await;
}

/// Without history: no numbers, and `lift:replay` is a route like any unknown one.
#[tokio::test]
async fn without_history_frames_have_no_number_and_there_is_no_replay() {
    let app = lift_tests::start(App::new(feed::router())).await;
    let mut member = app.connect("/?member=1").await;
    let mut sender = app.connect("/").await;
    sender
        .send_json(&json!({"action": "say", "run": "plain", "n": 1}))
        .await;
    assert_eq!(sender.recv_json().await["type"], "said");
    assert_eq!(member.recv_json().await, json!({"type": "post", "n": 1}));
    member
        .send_json(&json!({"action": "lift:replay", "since": 0}))
        .await;
    assert_eq!(member.recv_json().await["code"], "unknown_route");
    app.shutdown().await;
}
