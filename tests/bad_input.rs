//! The bad-input corpus through the emulator: `corpus/bodies.jsonl` sent by a real WebSocket
//! client, `corpus/frames.jsonl` and `corpus/handshakes.jsonl` written byte by byte
//! (`support/raw_ws.rs`). Each case's outcome is compared with the one written in the corpus;
//! after each, the connection (unless the case closes it) and the process must keep working.
//! The Lambda path runs the same bodies in `bad_input_lambda.rs`.

use std::time::Duration;

use lift_runtime::store::{ConnectionStore, MemoryStore};
use lift_runtime::testing::TestApp;
use lift_runtime::App;
use lift_tests::chat_app::chat;
use lift_tests::corpus::{self, Case, Expect};
use lift_tests::raw_ws::{self, Frame, RawSocket, Received};
use lift_tests::{eventually, Client};
use tokio_tungstenite::tungstenite::Message;

const WHOAMI: &str = r#"{"action":"whoami"}"#;

async fn chat_with_store() -> (TestApp, MemoryStore) {
    let store = MemoryStore::new();
    let emulator = lift_tests::start(App::new(chat::router()).store(store.clone())).await;
    (emulator, store)
}

async fn stored(store: &MemoryStore) -> usize {
    store.list().await.unwrap().len()
}

/// Every connection is gone from the store (their `$disconnect` ran).
async fn all_disconnected(store: &MemoryStore) {
    eventually("every connection is removed", || async {
        stored(store).await == 0
    })
    .await;
}

/// The process still accepts a connection and answers it.
async fn still_serves(emulator: &TestApp, store: &MemoryStore) {
    let mut client = Client::join(emulator, "after").await;
    client.whoami().await;
    client.close(1000, "").await;
    all_disconnected(store).await;
}

fn report(file: &str, failures: &[String], tried: usize) {
    assert!(
        failures.is_empty(),
        "{file}: {} of {tried} cases went otherwise than the corpus says:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn mismatch(file: &str, case: &Case, outcome: &Expect) -> Option<String> {
    (!corpus::matches(&case.expect, outcome)).then(|| {
        format!(
            "{file} {:?}: expected {:?}, got {outcome:?}",
            case.case, case.expect
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_body_gets_its_documented_answer_from_the_emulator() {
    let (emulator, store) = chat_with_store().await;
    let mut failures = Vec::new();
    let cases = corpus::load("bodies.jsonl");
    for case in &cases {
        let mut client = Client::join(&emulator, "body").await;
        let body = case.text("body").expect("a body");
        client.send_text(&body).await;
        let mut outcome = Expect::default();
        match client.next().await {
            Message::Text(text) => (outcome.code, outcome.reply) = corpus::classify(&text),
            Message::Close(frame) => outcome.close = Some(frame.map_or(1005, |f| f.code.into())),
            other => panic!("{}: unexpected {other:?}", case.case),
        }
        if outcome.close.is_none() {
            outcome.stored = Some(stored(&store).await);
            // The connection keeps working.
            client.whoami().await;
            client.close(1000, "").await;
        }
        failures.extend(mismatch("bodies.jsonl", case, &outcome));
        all_disconnected(&store).await;
    }
    still_serves(&emulator, &store).await;
    report("bodies.jsonl", &failures, cases.len());
}

/// The frames a case of `frames.jsonl` writes.
fn frames_of(case: &Case) -> Vec<u8> {
    let mut bytes = Vec::new();
    for spec in case.get("frames").as_array().expect("`frames` is a list") {
        let mut frame = Frame::new(
            spec["op"].as_u64().expect("an opcode") as u8,
            corpus::bytes(&spec["payload"]),
        );
        frame.fin = spec["fin"].as_bool().unwrap_or(true);
        frame.rsv = spec["rsv"].as_u64().unwrap_or(0) as u8;
        frame.mask = spec["mask"].as_bool().unwrap_or(true);
        frame.declared_len = spec["len"].as_u64();
        frame.long_form = spec["long"].as_bool().unwrap_or(false);
        let times = spec["repeat_frame"].as_u64().unwrap_or(1);
        for _ in 0..times {
            bytes.extend(frame.encode());
        }
    }
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_frame_gets_its_documented_answer_from_the_emulator() {
    let (emulator, store) = chat_with_store().await;
    let addr = emulator.url().trim_start_matches("ws://").to_owned();
    let mut failures = Vec::new();
    let cases = corpus::load("frames.jsonl");
    for case in &cases {
        let mut socket = RawSocket::open(&addr, "/?name=frames").await;
        // A write may fail once the server has closed: what it answered is still read.
        socket.write(&frames_of(case)).await;
        let mut outcome = Expect::default();
        let wait = Duration::from_secs(if case.expect.silent == Some(true) {
            1
        } else {
            10
        });
        match socket.next(wait).await {
            Received::Text(text) => (outcome.code, outcome.reply) = corpus::classify(&text),
            Received::Pong(payload) => {
                outcome.pong = Some(String::from_utf8_lossy(&payload).into_owned());
            }
            Received::Close(code, _) => outcome.close = Some(code),
            Received::Nothing => outcome.silent = Some(true),
            other => panic!("{}: the server sent {other:?}", case.case),
        }
        if outcome.close.is_none() {
            // The connection keeps working: a `whoami` is answered (after whatever the case's
            // own frames were answered with).
            assert!(socket.write(&Frame::new(1, WHOAMI).encode()).await);
            let answered = async {
                loop {
                    match socket.next(lift_tests::FRAME_WAIT).await {
                        Received::Text(text) if text.contains(r#""type":"whoami""#) => break,
                        Received::Text(_) | Received::Pong(_) => continue,
                        other => panic!("{}: then {other:?}", case.case),
                    }
                }
            };
            answered.await;
            socket.write(&Frame::new(8, [3, 232]).encode()).await;
        }
        failures.extend(mismatch("frames.jsonl", case, &outcome));
        drop(socket);
        all_disconnected(&store).await;
    }
    still_serves(&emulator, &store).await;
    report("frames.jsonl", &failures, cases.len());
}

/// The request a case of `handshakes.jsonl` sends.
fn request_of(case: &Case, addr: &str) -> Vec<u8> {
    if let Some(raw) = case.input.get("raw") {
        let raw = corpus::bytes(raw);
        let text = String::from_utf8_lossy(&raw);
        if text.contains("{addr}") || text.contains("{key}") {
            return text
                .replace("{addr}", addr)
                .replace("{key}", raw_ws::KEY)
                .into_bytes();
        }
        return raw;
    }
    let path = case.text("path").unwrap_or_else(|| "/?name=raw".into());
    let drop: Vec<String> = case
        .get("drop")
        .as_array()
        .map(|names| names.iter().map(corpus::text).collect())
        .unwrap_or_default();
    let base = raw_ws::request(addr, &path, &[]);
    let mut request: Vec<u8> = Vec::new();
    let mut lines: Vec<&str> = base.trim_end().split("\r\n").collect();
    lines.retain(|line| {
        !drop.iter().any(|name| {
            line.to_lowercase()
                .starts_with(&format!("{}:", name.to_lowercase()))
        })
    });
    for line in lines {
        request.extend_from_slice(line.as_bytes());
        request.extend_from_slice(b"\r\n");
    }
    for line in case.get("extra").as_array().into_iter().flatten() {
        request.extend(corpus::bytes(line));
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_handshake_gets_its_documented_answer_from_the_emulator() {
    let (emulator, store) = chat_with_store().await;
    let addr = emulator.url().trim_start_matches("ws://").to_owned();
    let mut failures = Vec::new();
    let cases = corpus::load("handshakes.jsonl");
    for case in &cases {
        let mut socket = RawSocket::connect(&addr).await;
        let request = request_of(case, &addr);
        let status = if case.get("close_early").as_bool() == Some(true) {
            socket.write(&request).await;
            drop(socket);
            socket = RawSocket::connect(&addr).await;
            None
        } else {
            socket.handshake(&request).await
        };
        let outcome = Expect {
            status,
            silent: Some(status.is_none()),
            stored: Some(stored(&store).await),
            ..Expect::default()
        };
        failures.extend(mismatch("handshakes.jsonl", case, &outcome));
        drop(socket);
        all_disconnected(&store).await;
        still_serves(&emulator, &store).await;
    }
    report("handshakes.jsonl", &failures, cases.len());
}
