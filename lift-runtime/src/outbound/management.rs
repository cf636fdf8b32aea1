//! The API Gateway Management API: posting to, inspecting and closing connections.
//!
//! Handlers use it through [`WsContext`](crate::WsContext) (`send`, `reply`, `disconnect`,
//! `info`), which hands the calls to [`Outbound`](super::Outbound). The runtime talks to it with `aws-sdk-apigatewaymanagement` ([`SdkManagement`]),
//! against `https://{domainName}/{stage}` from the event, or `LIFT_MANAGEMENT_ENDPOINT` when
//! set (custom domains). One client is built per endpoint per process and reused. Under the
//! local emulator the same SDK client is pointed at the emulator's own Management API.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::SendError;

/// API Gateway's maximum WebSocket message size (128 KB). Larger messages are refused before any
/// network call. (API Gateway splits messages into 32 KB frames on the wire; clients reassemble
/// them, so the limit that matters to an app is this one.)
pub const MAX_MESSAGE_SIZE: usize = 128 * 1024;

/// What the Management API knows of a connection (`GET /@connections/{id}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// When the connection was opened.
    pub connected_at: Option<SystemTime>,
    /// When the client last sent a message.
    pub last_active_at: Option<SystemTime>,
    /// The client's IP address.
    pub source_ip: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
}

/// A Management API endpoint's operations. Implemented by [`SdkManagement`].
#[async_trait]
pub trait ManagementApi: Send + Sync + 'static {
    /// The endpoint this client calls, for messages and logs.
    fn endpoint(&self) -> &str;
    /// `POST /@connections/{id}`: sends `data` to the connection as one message.
    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<(), SendError>;

    /// [`post`](Self::post) of bytes shared by many sends (a broadcast's message, serialised
    /// once): the default posts them as a slice; a client that can send them as they are
    /// overrides it so they are not copied per connection ([`HttpManagement`](super::HttpManagement)
    /// does).
    ///
    /// Not an `async fn`: the default hands back [`post`](Self::post)'s future itself rather
    /// than boxing a second one around it.
    fn post_shared<'a>(
        &'a self,
        connection_id: &'a str,
        data: &'a Bytes,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), SendError>> + Send + 'a>>
    {
        self.post(connection_id, data)
    }

    /// `DELETE /@connections/{id}`: closes the connection.
    async fn delete(&self, connection_id: &str) -> Result<(), SendError>;
    /// `GET /@connections/{id}`.
    async fn info(&self, connection_id: &str) -> Result<ConnectionInfo, SendError>;
}

/// The [`SendError`] of a failed Management API call, from its error code (`x-amzn-ErrorType`)
/// and HTTP status (`None` when no answer came): one mapping for every client, so they fail
/// alike. `message` words the `Failed` case.
pub(crate) fn send_error(
    code: Option<&str>,
    status: Option<u16>,
    connection_id: &str,
    endpoint: &str,
    message: impl FnOnce() -> String,
) -> SendError {
    let endpoint = endpoint.to_owned();
    match (code, status) {
        (Some("GoneException"), _) | (_, Some(410)) => SendError::Gone {
            connection_id: connection_id.to_owned(),
        },
        (Some("PayloadTooLargeException"), _) | (_, Some(413)) => SendError::TooLarge {
            size: 0,
            limit: MAX_MESSAGE_SIZE,
        },
        (Some("ForbiddenException"), _) | (_, Some(403)) => SendError::Forbidden { endpoint },
        (Some("LimitExceededException"), _) | (_, Some(429)) => SendError::Throttled { endpoint },
        (_, Some(status)) if status >= 500 => SendError::ServerError { endpoint, status },
        _ => SendError::Failed {
            endpoint,
            message: message(),
        },
    }
}

type Connect = Box<dyn Fn(&str) -> Arc<dyn ManagementApi> + Send + Sync>;

/// One Management API client per endpoint, built on first use and reused for the life of the
/// process.
pub(crate) struct Clients {
    connect: Connect,
    cache: Mutex<HashMap<String, Arc<dyn ManagementApi>>>,
}

impl Clients {
    pub(crate) fn new(connect: Connect) -> Self {
        Clients {
            connect,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// How many clients were built so far.
    pub(crate) fn built(&self) -> usize {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub(crate) fn get(&self, endpoint: &str) -> Arc<dyn ManagementApi> {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = cache.get(endpoint) {
            return client.clone();
        }
        tracing::debug!(endpoint, "building a Management API client");
        let client = (self.connect)(endpoint);
        cache.insert(endpoint.to_owned(), client.clone());
        client
    }
}

#[cfg(feature = "lambda")]
pub use sdk::SdkManagement;

#[cfg(feature = "lambda")]
mod sdk {
    use async_trait::async_trait;
    use aws_sdk_apigatewaymanagement::error::{
        DisplayErrorContext, ProvideErrorMetadata, SdkError,
    };
    use aws_sdk_apigatewaymanagement::primitives::Blob;
    use aws_sdk_apigatewaymanagement::{Client, Config};

    use super::{ConnectionInfo, ManagementApi};
    use crate::error::SendError;
    use crate::outbound::management::send_error;

    /// The Management API through `aws-sdk-apigatewaymanagement`.
    #[derive(Clone, Debug)]
    pub struct SdkManagement {
        client: Client,
        endpoint: String,
    }

    impl SdkManagement {
        /// A client for `endpoint` (e.g. `https://abc123.execute-api.eu-west-1.amazonaws.com/prod`)
        /// with the credentials, region and settings of `base`.
        pub fn new(base: &Config, endpoint: &str) -> Self {
            // Retries are the runtime's own (deadline-aware, see `broadcast`), not the SDK's.
            let config = base
                .to_builder()
                .endpoint_url(endpoint)
                .retry_config(aws_sdk_apigatewaymanagement::config::retry::RetryConfig::disabled())
                .build();
            SdkManagement {
                client: Client::from_conf(config),
                endpoint: endpoint.to_owned(),
            }
        }

        /// The SDK client, for calls this crate does not wrap.
        pub fn client(&self) -> &Client {
            &self.client
        }

        fn error<E>(&self, connection_id: &str, err: SdkError<E>) -> SendError
        where
            E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        {
            let status = err.raw_response().map(|raw| raw.status().as_u16());
            send_error(err.code(), status, connection_id, &self.endpoint, || {
                DisplayErrorContext(&err).to_string()
            })
        }
    }

    #[async_trait]
    impl ManagementApi for SdkManagement {
        fn endpoint(&self) -> &str {
            &self.endpoint
        }

        async fn post(&self, connection_id: &str, data: &[u8]) -> Result<(), SendError> {
            self.client
                .post_to_connection()
                .connection_id(connection_id)
                .data(Blob::new(data))
                .send()
                .await
                .map(drop)
                .map_err(|err| self.error(connection_id, err))
        }

        async fn delete(&self, connection_id: &str) -> Result<(), SendError> {
            self.client
                .delete_connection()
                .connection_id(connection_id)
                .send()
                .await
                .map(drop)
                .map_err(|err| self.error(connection_id, err))
        }

        async fn info(&self, connection_id: &str) -> Result<ConnectionInfo, SendError> {
            let out = self
                .client
                .get_connection()
                .connection_id(connection_id)
                .send()
                .await
                .map_err(|err| self.error(connection_id, err))?;
            let time = |t: Option<&aws_sdk_apigatewaymanagement::primitives::DateTime>| {
                t.and_then(|t| std::time::SystemTime::try_from(*t).ok())
            };
            Ok(ConnectionInfo {
                connected_at: time(out.connected_at()),
                last_active_at: time(out.last_active_at()),
                source_ip: out
                    .identity()
                    .and_then(|i| i.source_ip())
                    .map(str::to_owned),
                user_agent: out
                    .identity()
                    .and_then(|i| i.user_agent())
                    .map(str::to_owned),
            })
        }
    }
}
