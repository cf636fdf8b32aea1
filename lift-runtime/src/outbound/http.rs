//! [`HttpManagement`]: the Management API over hyper, each request signed with SigV4 by
//! `aws-sigv4` (the signer the AWS SDK itself uses), with credentials from the AWS
//! configuration's provider, cached until shortly before they expire. The runtime's one
//! client: `aws-sdk-apigatewaymanagement` spends 4–6 times its CPU per message (its
//! per-operation machinery: interceptors, config bag, endpoint resolution; `BENCHMARKS.md`).
//!
//! Same TLS stack and root certificates as the SDK's default client (rustls on aws-lc-rs, the
//! platform's roots, read at the first HTTPS connection), HTTP/1.1 with a keep-alive pool, and
//! errors mapped as the SDK maps them (status and `x-amzn-ErrorType`; `tests/outbound.rs`
//! compares the two against the emulator).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::RwLock;

use super::management::{send_error, ConnectionInfo, ManagementApi};
use super::tls::LazyTls;
use crate::error::SendError;

/// Credentials are fetched again this long before they expire.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// What every endpoint's client shares: the HTTP connection pool, the region and the cached
/// credentials. Built once per process.
pub(crate) struct HttpShared {
    http: Client<LazyTls, Full<Bytes>>,
    region: String,
    provider: SharedCredentialsProvider,
    identity: RwLock<Option<(Identity, Option<SystemTime>)>>,
}

impl HttpShared {
    /// The shared parts for the region and credentials provider of `config`.
    /// `extra_roots`: certificates trusted besides the platform's
    /// ([`Settings::management_ca_file`](crate::Settings::management_ca_file)).
    pub(crate) fn new(
        config: &aws_config::SdkConfig,
        extra_roots: Option<&std::path::Path>,
    ) -> Result<Arc<Self>, crate::Error> {
        let region = config
            .region()
            .ok_or("the AWS configuration has no region")?
            .to_string();
        let provider = config
            .credentials_provider()
            .ok_or("the AWS configuration has no credentials provider")?;
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(match extra_roots {
                Some(file) => LazyTls::trusting(file)?,
                None => LazyTls::new(),
            });
        Ok(Arc::new(HttpShared {
            http,
            region,
            provider,
            identity: RwLock::new(None),
        }))
    }

    /// The cached credentials, when they are not about to expire and the cache is not being
    /// written: no waiting.
    fn cached_identity(&self) -> Option<Identity> {
        fresh(&*self.identity.try_read().ok()?)
    }

    /// The credentials to sign with: the cached ones, unless they expire within
    /// [`REFRESH_BEFORE_EXPIRY`].
    async fn identity(&self, endpoint: &str) -> Result<Identity, SendError> {
        if let Some(identity) = fresh(&*self.identity.read().await) {
            return Ok(identity);
        }
        let mut cached = self.identity.write().await;
        if let Some(identity) = fresh(&cached) {
            return Ok(identity);
        }
        let credentials: Credentials =
            self.provider
                .provide_credentials()
                .await
                .map_err(|err| SendError::Failed {
                    endpoint: endpoint.to_owned(),
                    message: format!("no credentials to sign with: {err}"),
                })?;
        let expiry = credentials.expiry();
        let identity = Identity::from(credentials);
        *cached = Some((identity.clone(), expiry));
        tracing::debug!(?expiry, "credentials for the Management API (re)loaded");
        Ok(identity)
    }
}

/// The cached identity, unless it expires within [`REFRESH_BEFORE_EXPIRY`].
fn fresh(cached: &Option<(Identity, Option<SystemTime>)>) -> Option<Identity> {
    cached.as_ref().and_then(|(identity, expiry)| match expiry {
        Some(expiry) if SystemTime::now() + REFRESH_BEFORE_EXPIRY >= *expiry => None,
        _ => Some(identity.clone()),
    })
}

impl std::fmt::Debug for HttpShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpShared")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// The Management API of one endpoint over hyper, signed with `aws-sigv4`.
#[derive(Clone, Debug)]
pub(crate) struct HttpManagement {
    shared: Arc<HttpShared>,
    endpoint: String,
    /// `https://host/stage/@connections/`, to which the encoded connection id is appended.
    base: String,
    host: String,
}

impl HttpManagement {
    /// A client for `endpoint` (e.g. `https://abc123.execute-api.eu-west-1.amazonaws.com/prod`).
    pub(crate) fn new(shared: Arc<HttpShared>, endpoint: &str) -> Self {
        let trimmed = endpoint.trim_end_matches('/');
        let host = trimmed
            .split_once("://")
            .map_or(trimmed, |(_, rest)| rest)
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        HttpManagement {
            shared,
            endpoint: endpoint.to_owned(),
            base: format!("{trimmed}/@connections/"),
            host,
        }
    }

    /// Sends one signed request; the status and body of a 2xx answer, or the error as the SDK
    /// would map it.
    ///
    /// Every post of a broadcast is a future of its own, boxed: what it holds while it waits
    /// is kept small (the request is built and signed in [`Self::signed`], outside it; the
    /// credentials are read without waiting when cached), so the box stays under the size
    /// at which the allocator starts merging its free lists (1 KiB), which it would do for
    /// every post.
    async fn call(
        &self,
        method: &'static str,
        connection_id: &str,
        body: Bytes,
    ) -> Result<(u16, Bytes), SendError> {
        let identity = match self.shared.cached_identity() {
            Some(identity) => identity,
            None => Box::pin(self.shared.identity(&self.endpoint)).await?,
        };
        let request = self.signed(method, connection_id, body, identity)?;
        let response = self
            .shared
            .http
            .request(request)
            .await
            .map_err(|err| self.failed(format!("dispatch failure: {}", error_chain(&err))))?;
        let status = response.status().as_u16();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|value| value.to_str().ok())
            .map(|value| value.split(':').next().unwrap_or(value).to_owned());
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|err| self.failed(format!("the answer could not be read: {err}")))?
            .to_bytes();
        if (200..300).contains(&status) {
            return Ok((status, body));
        }
        let code = error_type.or_else(|| body_code(&body));
        Err(send_error(
            code.as_deref(),
            Some(status),
            connection_id,
            &self.endpoint,
            || {
                format!(
                    "{} ({status}): {}",
                    code.as_deref().unwrap_or("unhandled error"),
                    String::from_utf8_lossy(&body)
                )
            },
        ))
    }

    /// The request to `connection_id`, signed with `identity`.
    fn signed(
        &self,
        method: &'static str,
        connection_id: &str,
        body: Bytes,
        identity: Identity,
    ) -> Result<http::Request<Full<Bytes>>, SendError> {
        let mut uri = String::with_capacity(self.base.len() + 3 * connection_id.len());
        uri.push_str(&self.base);
        encode_into(&mut uri, connection_id);
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.shared.region)
            .name("execute-api")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|err| self.failed(format!("cannot sign the request: {err}")))?
            .into();
        let signable = SignableRequest::new(
            method,
            &uri,
            [("host", self.host.as_str())].into_iter(),
            SignableBody::Bytes(&body),
        )
        .map_err(|err| self.failed(format!("cannot sign the request: {err}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|err| self.failed(format!("cannot sign the request: {err}")))?
            .into_parts();
        let mut builder = http::Request::builder()
            .method(method)
            .uri(uri)
            .header("host", &self.host);
        // The invocation's X-Ray trace, so the call shows in the event's trace.
        if let Some(trace) = crate::trace::trace_header() {
            builder = builder.header("x-amzn-trace-id", trace);
        }
        let mut request = builder
            .body(Full::new(body))
            .map_err(|err| self.failed(format!("cannot build the request: {err}")))?;
        instructions.apply_to_request_http1x(&mut request);
        Ok(request)
    }

    fn failed(&self, message: String) -> SendError {
        SendError::Failed {
            endpoint: self.endpoint.clone(),
            message,
        }
    }
}

#[async_trait]
impl ManagementApi for HttpManagement {
    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<(), SendError> {
        self.call("POST", connection_id, Bytes::copy_from_slice(data))
            .await
            .map(drop)
    }

    fn post_shared<'a>(
        &'a self,
        connection_id: &'a str,
        data: &'a Bytes,
    ) -> futures_util::future::BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            self.call("POST", connection_id, data.clone())
                .await
                .map(drop)
        })
    }

    async fn delete(&self, connection_id: &str) -> Result<(), SendError> {
        self.call("DELETE", connection_id, Bytes::new())
            .await
            .map(drop)
    }

    async fn info(&self, connection_id: &str) -> Result<ConnectionInfo, SendError> {
        let (_, body) = self.call("GET", connection_id, Bytes::new()).await?;
        let value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|err| self.failed(format!("GetConnection answered no JSON: {err}")))?;
        let identity = &value["identity"];
        let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
        Ok(ConnectionInfo {
            connected_at: timestamp(&value["connectedAt"]),
            last_active_at: timestamp(&value["lastActiveAt"]),
            source_ip: text(&identity["sourceIp"]),
            user_agent: text(&identity["userAgent"]),
        })
    }
}

/// A timestamp as the Management API writes it: ISO 8601, or epoch seconds.
fn timestamp(value: &serde_json::Value) -> Option<SystemTime> {
    if let Some(seconds) = value.as_f64() {
        return SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs_f64(seconds.max(0.0)));
    }
    let parsed = chrono::DateTime::parse_from_rfc3339(value.as_str()?).ok()?;
    Some(SystemTime::from(parsed))
}

/// The error code of a JSON error body (`__type` or `code`), as the SDK reads it when the
/// header is missing.
fn body_code(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = value
        .get("__type")
        .or_else(|| value.get("code"))?
        .as_str()?;
    let code = code.rsplit('#').next().unwrap_or(code);
    Some(code.split(':').next().unwrap_or(code).to_owned())
}

/// [`encode_into`] a new string (the tests' spelling).
#[cfg(test)]
fn encode(id: &str) -> String {
    let mut out = String::with_capacity(id.len() + 8);
    encode_into(&mut out, id);
    out
}

/// Appends a connection id to `out` as one path segment (ids are base64: `+`, `/` and `=` are
/// percent-encoded), with no allocation of its own.
fn encode_into(out: &mut String, id: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in id.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            other => {
                out.push('%');
                out.push(HEX[usize::from(other >> 4)] as char);
                out.push(HEX[usize::from(other & 0xf)] as char);
            }
        }
    }
}

/// An error and its sources, on one line.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_ids_are_one_encoded_path_segment() {
        assert_eq!(encode("L0SM9cOFvHcCIhw="), "L0SM9cOFvHcCIhw%3D");
        assert_eq!(encode("a+b/c"), "a%2Bb%2Fc");
    }

    #[test]
    fn error_codes_are_read_from_json_bodies() {
        assert_eq!(
            body_code(br#"{"__type":"com.amazon#GoneException:http://x"}"#).as_deref(),
            Some("GoneException")
        );
        assert_eq!(body_code(b"not json"), None);
    }

    #[test]
    fn timestamps_are_iso_8601_or_epoch_seconds() {
        let iso = timestamp(&serde_json::json!("2024-01-02T03:04:05.000Z")).unwrap();
        let epoch = timestamp(&serde_json::json!(1_704_164_645)).unwrap();
        assert_eq!(iso, epoch);
    }
}

/// The client against the emulator's Management API, which checks every signature: what a
/// client of API Gateway meets. (`tests/outbound.rs` compares its errors with the AWS SDK's,
/// through an app.)
#[cfg(all(test, feature = "testing"))]
mod against_the_emulator {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use aws_credential_types::provider::{future, ProvideCredentials, SharedCredentialsProvider};
    use aws_credential_types::Credentials;

    use super::{HttpManagement, HttpShared};
    use crate::error::SendError;
    use crate::outbound::ManagementApi;
    use crate::testing::TestApp;

    #[crate::ws_app]
    mod idle {
        #[crate::ws_default]
        async fn ignore() -> crate::WsResult {
            Ok(())
        }
    }

    fn config(provider: impl ProvideCredentials + 'static) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build()
    }

    async fn emulator() -> TestApp {
        let app = crate::App::new(idle::router()).settings(crate::Settings::default());
        TestApp::start(app).await
    }

    /// Credentials that expire a moment after the client's refresh margin: fetched once,
    /// reused while fresh, fetched again once they are about to expire.
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
            let expiry =
                SystemTime::now() + Duration::from_secs(5 * 60) + Duration::from_millis(1500);
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
        let app = emulator().await;
        let mut ana = app.connect("/").await;
        let id = app.connection_ids().pop().unwrap();
        let provider = ShortLived::default();
        let shared = HttpShared::new(&config(provider.clone()), None).unwrap();
        let api = HttpManagement::new(shared, &app.management_endpoint());
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
        app.shutdown().await;
    }

    #[tokio::test]
    async fn it_posts_describes_closes_and_is_refused_a_wrong_signature() {
        let app = emulator().await;
        let mut ana = app.connect("/").await;
        let id = app.connection_ids().pop().unwrap();
        let endpoint = app.management_endpoint();
        let signed_as = |key: &str, secret: &str| {
            let credentials = Credentials::new(key, secret, None, None, "test");
            HttpManagement::new(
                HttpShared::new(&config(credentials), None).unwrap(),
                &endpoint,
            )
        };
        let api = signed_as("local", "local");
        api.post(&id, br#"{"via":"http"}"#).await.unwrap();
        assert_eq!(ana.recv_text().await, r#"{"via":"http"}"#);
        let info = api.info(&id).await.unwrap();
        assert_eq!(info.source_ip.as_deref(), Some("127.0.0.1"));
        assert!(info.connected_at.unwrap() <= SystemTime::now());
        let unknown = "bm8tc3VjaA==";
        let gone = SendError::Gone {
            connection_id: unknown.into(),
        };
        assert_eq!(api.post(unknown, b"{}").await, Err(gone.clone()));
        assert_eq!(api.info(unknown).await.map(drop), Err(gone.clone()));
        assert_eq!(api.delete(unknown).await, Err(gone));
        let big = vec![b'x'; 130 * 1024];
        let too_large = SendError::TooLarge {
            size: 0,
            limit: 128 * 1024,
        };
        assert_eq!(api.post(&id, &big).await, Err(too_large));
        // A key the emulator knows with a wrong secret: refused, as API Gateway does.
        let refused = signed_as("local", "not-the-secret").post(&id, b"{}").await;
        let forbidden = SendError::Forbidden {
            endpoint: endpoint.clone(),
        };
        assert_eq!(refused, Err(forbidden.clone()));
        // A key it does not know: refused too, as TestApp's emulator is strict.
        let unknown_key = signed_as("someone-elses-key", "their-secret");
        assert_eq!(unknown_key.post(&id, b"{}").await, Err(forbidden));
        api.delete(&id).await.unwrap();
        assert_eq!(ana.closed().await.0, 1000);
        app.shutdown().await;
    }
}
