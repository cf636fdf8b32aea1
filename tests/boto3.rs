//! The emulator's Management API as a developer's own tools meet it: boto3 (Python's AWS SDK)
//! with whatever credentials are in their environment (`AWS_ACCESS_KEY_ID=anything`), next to
//! the chat's own protocol. The emulator `cargo run` starts accepts any access key, as moto
//! and LocalStack do; in strict mode (`LIFT_LOCAL_STRICT=1`, `TestApp`'s default) the same
//! calls are refused with 403 and change nothing.

use lift_tests::{start_chat, Client};
use serde_json::{json, Value};

/// Runs tests/boto3/management.py: a post to `connection`, a description of it, a close of
/// `other` and a post to it after; what each answered.
async fn boto3(endpoint: String, connection: String, other: String) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/boto3/management.py");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args([script, &endpoint, &connection, &other])
            // Credentials the emulator has never heard of, and no profile or config file.
            .env("AWS_ACCESS_KEY_ID", "anything")
            .env("AWS_SECRET_ACCESS_KEY", "anything-secret")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .output()
            .expect("python3 runs (boto3 comes with moto: scripts/test installs it)")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "boto3 failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the script prints one JSON line")
}

#[tokio::test]
async fn boto3_with_any_credentials_reaches_the_chat_and_strict_mode_refuses_it_with_403() {
    // As `cargo run --example chat` starts it: any access key.
    std::env::set_var("LIFT_LOCAL_STRICT", "0");
    let emulator = start_chat().await;
    let mut ana = Client::join(&emulator, "ana").await;
    let mut ben = Client::join(&emulator, "ben").await;
    ben.send_json(json!({"action": "sendMessage", "text": "hi"}))
        .await;
    let said = json!({"type": "message", "from": "ben", "text": "hi"});
    assert_eq!(ana.recv_json().await, said);
    assert_eq!(ben.recv_json().await, said);
    let (ana_id, ben_id) = (ana.connection_id().await, ben.connection_id().await);

    let answers = boto3(emulator.management_endpoint(), ana_id, ben_id).await;
    assert_eq!(answers["post"], json!({"status": 200}), "{answers}");
    assert_eq!(
        ana.recv_json().await,
        json!({"type": "message", "from": "boto3", "text": "hello from boto3"})
    );
    assert_eq!(answers["get"]["status"], 200, "{answers}");
    assert_eq!(answers["get"]["answer"]["sourceIp"], "127.0.0.1");
    assert_eq!(answers["delete"], json!({"status": 204}), "{answers}");
    assert_eq!(ben.closed().await.0, 1000);
    assert_eq!(
        answers["post_after_delete"],
        json!({"status": 410, "code": "GoneException"})
    );
    emulator.shutdown().await;

    // Strict: only the keys the emulator knows. Every call is refused, nothing delivered or
    // closed: the chat goes on as before.
    std::env::set_var("LIFT_LOCAL_STRICT", "1");
    let emulator = start_chat().await;
    let mut ana = Client::join(&emulator, "ana").await;
    let mut ben = Client::join(&emulator, "ben").await;
    let (ana_id, ben_id) = (ana.connection_id().await, ben.connection_id().await);
    let answers = boto3(emulator.management_endpoint(), ana_id, ben_id).await;
    let refused = json!({"status": 403, "code": "UnrecognizedClientException"});
    for call in ["post", "get", "delete", "post_after_delete"] {
        assert_eq!(answers[call], refused, "{call}: {answers}");
    }
    ben.send_json(json!({"action": "sendMessage", "text": "still here"}))
        .await;
    let said = json!({"type": "message", "from": "ben", "text": "still here"});
    assert_eq!(ana.recv_json().await, said, "nothing came from boto3 first");
    assert_eq!(
        ben.recv_json().await,
        said,
        "ben's connection was not closed"
    );
    emulator.shutdown().await;
}
