//! The Management API over HTTPS to a local endpoint with a CA of its own: the emulator behind
//! a TLS front whose certificate a CA made at start signed (rcgen), trusted by lift through
//! `Settings::management_ca_file` (`LIFT_MANAGEMENT_CA_FILE`); a real WebSocket client of the
//! emulator receives what the Lambda path sends.

use lift_runtime::store::MemoryStore;
use lift_runtime::{App, Settings};
use lift_tests::chat_app::chat;
use lift_tests::events::message_event;
use lift_tests::tls::TlsFront;
use lift_tests::{start, Client};
use serde_json::json;

/// The emulator's address, from its `ws://HOST:PORT` URL.
fn addr_of(url: &str) -> std::net::SocketAddr {
    url.trim_start_matches("ws://").parse().expect("an address")
}

fn say(from: &str, text: &str) -> serde_json::Value {
    let body = json!({"action": "sendMessage", "text": text}).to_string();
    message_event(from, "sendMessage", &body)
}

#[tokio::test]
async fn a_trusted_local_ca_carries_every_send_over_one_tls_connection() {
    let store = MemoryStore::new();
    let emulator = start(App::new(chat::router()).store(store.clone())).await;
    let front = TlsFront::start(addr_of(&emulator.url())).await;
    let service = App::new(chat::router())
        .store(store.clone())
        .settings(Settings {
            management_endpoint: Some(format!("{}/local", front.url())),
            management_ca_file: Some(front.ca_file().to_owned()),
            ..Settings::default()
        })
        .service()
        .await
        .expect("the app's service");
    let mut ana = Client::join(&emulator, "ana").await;
    let ana_id = ana.connection_id().await;
    for n in 0..20 {
        let text = format!("over TLS {n}");
        let response = lift_tests::handle_json(&service, say(&ana_id, &text)).await;
        assert_eq!(response.status_code, 200);
        assert_eq!(
            ana.recv_json().await,
            json!({"type": "message", "from": "ana", "text": text})
        );
    }
    // Twenty broadcasts, one after another: the connection is kept alive and reused, one
    // handshake in all.
    assert_eq!(front.handshakes(), 1, "one TLS connection for every send");
}

#[tokio::test]
async fn without_the_ca_nothing_is_sent_and_the_app_keeps_working() {
    let store = MemoryStore::new();
    let emulator = start(App::new(chat::router()).store(store.clone())).await;
    let front = TlsFront::start(addr_of(&emulator.url())).await;
    let service = App::new(chat::router())
        .store(store.clone())
        .settings(lift_tests::endpoint(format!("{}/local", front.url())))
        .service()
        .await
        .expect("the app's service");
    let mut ana = Client::join(&emulator, "ana").await;
    let ana_id = ana.connection_id().await;
    // The certificate is refused: the send fails, the invocation is still answered.
    let response = lift_tests::handle_json(&service, say(&ana_id, "unverified")).await;
    assert_eq!(response.status_code, 200);
    assert_eq!(front.handshakes(), 0, "no TLS session with an unknown CA");
    // What reaches ana next is a message sent on the emulator itself, not the refused one.
    let mut ben = Client::join(&emulator, "ben").await;
    ben.send_json(json!({"action": "sendMessage", "text": "hi"}))
        .await;
    assert_eq!(ana.recv_json().await["text"], "hi");
}

#[tokio::test]
async fn a_ca_file_that_is_missing_or_empty_stops_the_app_at_start() {
    let missing = App::new(chat::router())
        .settings(Settings {
            management_ca_file: Some("/nonexistent/ca.pem".into()),
            ..Settings::default()
        })
        .service()
        .await;
    let Err(err) = missing else {
        panic!("a missing CA file is refused")
    };
    let err = err.to_string();
    assert!(
        err.contains("/nonexistent/ca.pem") && err.contains("LIFT_MANAGEMENT_CA_FILE"),
        "{err}"
    );

    let empty = std::env::temp_dir().join(format!("lift-empty-ca-{}.pem", std::process::id()));
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let refused = App::new(chat::router())
        .settings(Settings {
            management_ca_file: Some(empty.clone()),
            ..Settings::default()
        })
        .service()
        .await;
    let _ = std::fs::remove_file(&empty);
    let Err(err) = refused else {
        panic!("a CA file without a certificate is refused")
    };
    let err = err.to_string();
    assert!(err.contains("no PEM certificate"), "{err}");
}
