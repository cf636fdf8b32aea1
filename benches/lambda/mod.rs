//! Lift's chat (`examples/chat`) and the same chat written by hand (`examples/handwritten`) run
//! as Lambda runs them: their release binaries, built as for Lambda (`--no-default-features`:
//! no emulator), each polling a local stub of the Lambda Runtime API, keeping connections in a
//! DynamoDB-compatible server and posting to a local Management API.
//!
//! [`coldstart`] measures cold starts, peak RSS and binary sizes; [`requests`] counts the AWS
//! requests of one chat session through each.

pub mod coldstart;
pub mod fanout_requests;
pub mod proxy;
pub mod requests;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use lift_runtime::store::DynamoDbStore;
use serde_json::json;

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// An API Gateway WebSocket event for `connection_id` (its user is `name`, from the query
/// string, as the chats take it at `$connect`).
pub fn event(connection_id: &str, name: &str, route_key: &str, body: Option<&str>) -> Vec<u8> {
    let event = json!({
        "requestContext": {
            "routeKey": route_key,
            "eventType": match route_key {
                "$connect" => "CONNECT",
                "$disconnect" => "DISCONNECT",
                _ => "MESSAGE",
            },
            "messageDirection": "IN", "stage": "prod",
            "connectedAt": now_ms(), "requestTimeEpoch": now_ms(),
            "requestId": format!("req-{connection_id}-{}", now_ms()),
            "domainName": "abcd1234.execute-api.us-east-1.amazonaws.com",
            "connectionId": connection_id, "apiId": "abcd1234",
            "identity": {"sourceIp": "203.0.113.7"}
        },
        "queryStringParameters": {"name": name},
        "multiValueQueryStringParameters": {"name": [name]},
        "body": body,
        "isBase64Encoded": false
    });
    event.to_string().into_bytes()
}

/// A DynamoDB-compatible server: the one the environment names (`AWS_ENDPOINT_URL_DYNAMODB` or
/// `LIFT_TEST_DYNAMODB_ENDPOINT`), or moto's server started here (`python3 -m moto.server`,
/// `pip install 'moto[server]'`) and stopped when this is dropped.
pub struct DynamoDb {
    /// `http://host:port`.
    pub endpoint: String,
    moto: Option<Child>,
}

impl DynamoDb {
    /// Finds or starts one.
    ///
    /// # Panics
    ///
    /// When none is named and moto's server does not start.
    pub fn find_or_start() -> DynamoDb {
        if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
            .or_else(|_| std::env::var("LIFT_TEST_DYNAMODB_ENDPOINT"))
        {
            return DynamoDb {
                endpoint,
                moto: None,
            };
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m moto.server (pip install 'moto[server]'), or set AWS_ENDPOINT_URL_DYNAMODB");
        let mut moto = DynamoDb {
            endpoint: format!("http://127.0.0.1:{port}"),
            moto: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = moto.moto.as_mut().and_then(|c| c.try_wait().ok().flatten());
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "moto's server did not start (pip install 'moto[server]'), or set AWS_ENDPOINT_URL_DYNAMODB"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("moto's server on {}", moto.endpoint);
        moto
    }
}

impl Drop for DynamoDb {
    fn drop(&mut self) {
        if let Some(mut child) = self.moto.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Builds both chats in release as for Lambda (`--no-default-features`) with the cargo that
/// runs this, and returns the folder of their binaries.
///
/// # Panics
///
/// When the build fails.
pub fn build_release_examples() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .current_dir(&workspace)
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "lift-examples",
            "--example",
            "chat",
            "--example",
            "handwritten",
            "--no-default-features",
        ])
        .status()
        .expect("cargo");
    assert!(status.success(), "building the examples failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace.join("target"), PathBuf::from);
    target.join("release").join("examples")
}

/// Creates lift's table and the hand-written chat's (`pk`, `sk`) at `endpoint`.
pub async fn create_tables(endpoint: &str, lift_table: &str, hand_table: &str) {
    std::env::set_var("AWS_ACCESS_KEY_ID", "coldstart");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "coldstart");
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .load()
        .await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    DynamoDbStore::new(client.clone(), lift_table)
        .create_table()
        .await
        .expect("lift's table is created");
    // The hand-written chat's table: `pk` and `sk`, nothing else.
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let created = client
        .create_table()
        .table_name(hand_table)
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    if let Err(err) = created {
        let text = format!("{err:?}");
        assert!(text.contains("ResourceInUse"), "{text}");
    }
}

/// The environment of a function under the Runtime API at `runtime_api`.
pub fn lambda_env(runtime_api: &str, dynamodb: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", "chat".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "AKIDCOLDSTART".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "secret".to_owned()),
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.to_owned()),
        ("PATH", std::env::var("PATH").unwrap_or_default()),
    ]
}

/// Starts `binary` with exactly `env`, its output discarded.
pub fn spawn(binary: &Path, env: &[(&'static str, String)]) -> Child {
    Command::new(binary)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| panic!("{}: {err}", binary.display()))
}
