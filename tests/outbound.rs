//! The two Management API clients, side by side: the default `HttpManagement` (hyper, signed by
//! `aws-sigv4`) and `SdkManagement` (`aws-sdk-apigatewaymanagement`) send the same requests to
//! the emulator (which checks every signature) and to the fault server, and must end in the same
//! `SendError` every time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{future, ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use lift_runtime::outbound::{HttpManagement, HttpShared, ManagementApi, SdkManagement};
use lift_runtime::SendError;
use lift_tests::faults::{FaultServer, Plan};
use lift_tests::{start_chat, Client};
use serde_json::json;

fn aws_config(access_key: &str, secret: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            access_key, secret, None, None, "test",
        )))
        .build()
}

/// Both clients for `endpoint`, signing with these credentials.
fn clients(
    endpoint: &str,
    access_key: &str,
    secret: &str,
) -> [(&'static str, Arc<dyn ManagementApi>); 2] {
    let config = aws_config(access_key, secret);
    let http = HttpManagement::new(HttpShared::new(&config).unwrap(), endpoint);
    let sdk = SdkManagement::new(
        &aws_sdk_apigatewaymanagement::Config::from(&config),
        endpoint,
    );
    [("http", Arc::new(http)), ("sdk", Arc::new(sdk))]
}

/// The same outcome, but for the free text of `Failed` (each client words its own).
fn same(a: &Result<(), SendError>, b: &Result<(), SendError>) -> bool {
    match (a, b) {
        (
            Err(SendError::Failed { endpoint: x, .. }),
            Err(SendError::Failed { endpoint: y, .. }),
        ) => x == y,
        (a, b) => a == b,
    }
}

#[tokio::test]
async fn both_clients_deliver_describe_and_fail_alike_against_the_emulator() {
    let emulator = start_chat().await;
    let mut ana = Client::join(&emulator, "ana").await;
    let id = ana.connection_id().await;
    let endpoint = emulator.management_endpoint();

    let mut outcomes = Vec::new();
    for (name, api) in clients(&endpoint, "local", "local") {
        // A post to a live connection arrives as a frame.
        api.post(&id, format!(r#"{{"via":"{name}"}}"#).as_bytes())
            .await
            .unwrap();
        assert_eq!(ana.recv_json().await, json!({"via": name}));
        // What API Gateway knows of it.
        let info = api.info(&id).await.unwrap();
        assert_eq!(info.source_ip.as_deref(), Some("127.0.0.1"), "{name}");
        assert!(info.connected_at.unwrap() <= SystemTime::now(), "{name}");
        assert!(info.last_active_at.is_some(), "{name}");
        let big = vec![b'x'; 130 * 1024];
        outcomes.push(vec![
            api.post("bm8tc3VjaA==", b"{}").await,
            api.info("bm8tc3VjaA==").await.map(drop),
            api.delete("bm8tc3VjaA==").await,
            api.post(&id, &big).await,
        ]);
    }
    assert_eq!(
        outcomes[0],
        vec![
            Err(SendError::Gone {
                connection_id: "bm8tc3VjaA==".into()
            }),
            Err(SendError::Gone {
                connection_id: "bm8tc3VjaA==".into()
            }),
            Err(SendError::Gone {
                connection_id: "bm8tc3VjaA==".into()
            }),
            Err(SendError::TooLarge {
                size: 0,
                limit: 128 * 1024
            }),
        ]
    );
    assert_eq!(outcomes[0], outcomes[1]);

    // A wrong secret or an unknown key: the emulator checks the signature and refuses with 403,
    // as AWS does.
    for (key, secret) in [("local", "not-the-secret"), ("unknown-key", "local")] {
        for (name, api) in clients(&endpoint, key, secret) {
            let err = api.post(&id, b"{}").await.unwrap_err();
            let forbidden = SendError::Forbidden {
                endpoint: endpoint.clone(),
            };
            assert_eq!(err, forbidden, "{name} signing as {key}");
        }
    }
    ana.expect_silence(Duration::from_millis(100)).await;

    // Closing through either client ends the connection.
    let [(_, http), _] = clients(&endpoint, "local", "local");
    http.delete(&id).await.unwrap();
    assert_eq!(ana.closed().await.0, 1000);
}

#[tokio::test]
async fn both_clients_map_faults_alike() {
    let faults = FaultServer::start().await;
    let endpoint = faults.endpoint();
    let plans = [
        ("throttled", Plan::Throttle(1)),
        ("failing", Plan::ServerError(1)),
        ("gone", Plan::Gone),
        ("forbidden", Plan::Forbidden),
        ("bad-gateway", Plan::Status(502)),
        ("unavailable", Plan::Status(503)),
        ("gateway-timeout", Plan::Status(504)),
        ("bad-request", Plan::Status(400)),
        ("fine", Plan::Deliver),
    ];
    let mut outcomes = Vec::new();
    for (_, api) in clients(&endpoint, "local", "local") {
        for (id, plan) in plans {
            faults.plan(id, plan);
        }
        let mut these = Vec::new();
        for (id, _) in plans {
            these.push(api.post(id, b"{}").await);
        }
        outcomes.push(these);
    }
    let expected = [
        Err(SendError::Throttled {
            endpoint: endpoint.clone(),
        }),
        Err(SendError::ServerError {
            endpoint: endpoint.clone(),
            status: 500,
        }),
        Err(SendError::Gone {
            connection_id: "gone".into(),
        }),
        Err(SendError::Forbidden {
            endpoint: endpoint.clone(),
        }),
        Err(SendError::ServerError {
            endpoint: endpoint.clone(),
            status: 502,
        }),
        Err(SendError::ServerError {
            endpoint: endpoint.clone(),
            status: 503,
        }),
        Err(SendError::ServerError {
            endpoint: endpoint.clone(),
            status: 504,
        }),
        Err(SendError::Failed {
            endpoint: endpoint.clone(),
            message: String::new(),
        }),
        Ok(()),
    ];
    for (name, these) in ["http", "sdk"].iter().zip(&outcomes) {
        for ((id, _), (got, want)) in plans.iter().zip(these.iter().zip(&expected)) {
            assert!(same(got, want), "{name} {id}: {got:?}, expected {want:?}");
        }
    }
    for (http, sdk) in outcomes[0].iter().zip(&outcomes[1]) {
        assert!(same(http, sdk), "http {http:?} / sdk {sdk:?}");
    }

    // Nobody listening: a network error, `Failed`, from both.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/prod", closed.local_addr().unwrap());
    drop(closed);
    for (name, api) in clients(&dead, "local", "local") {
        let err = api.post("x", b"{}").await.unwrap_err();
        assert!(matches!(err, SendError::Failed { .. }), "{name}: {err:?}");
    }
}

/// Credentials that expire a moment after the client's refresh margin: fetched once, reused
/// while fresh, fetched again once they are about to expire.
#[derive(Clone, Debug, Default)]
struct ShortLived {
    calls: Arc<AtomicUsize>,
}

impl ProvideCredentials for ShortLived {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        self.calls.fetch_add(1, Ordering::SeqCst);
        // Five minutes is the refresh margin: these are "about to expire" 1.5 s from now.
        let expiry = SystemTime::now() + Duration::from_secs(5 * 60) + Duration::from_millis(1500);
        future::ProvideCredentials::ready(Ok(Credentials::new(
            "local",
            "local",
            Some(format!("token-{}", self.calls.load(Ordering::SeqCst))),
            Some(expiry),
            "short-lived",
        )))
    }
}

#[tokio::test]
async fn credentials_are_cached_and_refreshed_before_they_expire() {
    let emulator = start_chat().await;
    let mut ana = Client::join(&emulator, "ana").await;
    let id = ana.connection_id().await;
    let provider = ShortLived::default();
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(provider.clone()))
        .build();
    let api = HttpManagement::new(
        HttpShared::new(&config).unwrap(),
        &emulator.management_endpoint(),
    );

    for n in 0..3 {
        api.post(&id, format!("{n}").as_bytes()).await.unwrap();
        assert_eq!(ana.recv_text().await, n.to_string());
    }
    assert_eq!(
        provider.calls.load(Ordering::SeqCst),
        1,
        "cached while fresh"
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;
    api.post(&id, b"after").await.unwrap();
    assert_eq!(ana.recv_text().await, "after");
    assert_eq!(
        provider.calls.load(Ordering::SeqCst),
        2,
        "fetched again before expiry"
    );
}
