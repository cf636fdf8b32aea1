//! The API Gateway Management API: posting to, inspecting and closing connections.
//!
//! Handlers use it through [`WsContext`](crate::WsContext) (`send`, `reply`, `disconnect`,
//! `info`), which hands the calls to [`Outbound`](super::Outbound). The runtime's one client is
//! `HttpManagement` (`outbound/http.rs`: hyper, signed with `aws-sigv4`), against
//! `https://{domainName}/{stage}` from the event, or [`Settings::management_endpoint`] when set
//! (custom domains). One client is built per endpoint per process and reused. Under the local
//! emulator the same client is pointed at the emulator's own Management API.
//!
//! [`Settings::management_endpoint`]: crate::Settings::management_endpoint

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::SendError;

/// API Gateway's maximum WebSocket message size (128 KB). Larger messages are refused before any
/// network call. (API Gateway splits messages into 32 KB frames on the wire; clients reassemble
/// them, so the limit that matters to an app is this one.)
pub(crate) const MAX_MESSAGE_SIZE: usize = 128 * 1024;

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

/// A Management API endpoint's operations: implemented by the runtime's own client, and by a
/// client of yours given to [`App::management_api`](crate::App::management_api) (one that
/// records calls, or injects faults, for a test).
#[async_trait]
pub trait ManagementApi: Send + Sync + 'static {
    /// The endpoint this client calls, for messages and logs.
    fn endpoint(&self) -> &str;
    /// `POST /@connections/{id}`: sends `data` to the connection as one message.
    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<(), SendError>;

    /// [`post`](Self::post) of bytes shared by many sends (a broadcast's message, serialised
    /// once): the default posts them as a slice; a client that can send them as they are
    /// overrides it so they are not copied per connection (the runtime's own client does).
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
#[cfg(any(feature = "lambda", feature = "local"))]
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

/// Builds the Management API client of an endpoint (given its URL): the built-in client's, or
/// one given to [`App::management_api`](crate::App::management_api).
pub(crate) type ClientFactory = dyn Fn(&str) -> Arc<dyn ManagementApi> + Send + Sync;

/// Where the Management API is for an event.
#[derive(Clone, Debug)]
pub(crate) enum Endpoint {
    /// `https://{domainName}/{stage}` from the event (`http` for a loopback domain: the
    /// emulator's).
    FromEvent,
    /// Always this URL (`LIFT_MANAGEMENT_ENDPOINT`, custom domains).
    Fixed(String),
}

/// One Management API client per endpoint, built on first use and reused for the life of the
/// process; [`for_event`](Self::for_event) finds an event's.
pub(crate) struct Clients {
    connect: Box<ClientFactory>,
    endpoint: Endpoint,
    cache: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    by_url: HashMap<String, Arc<dyn ManagementApi>>,
    /// The domain name and stage of the last event and their client. A function serves one
    /// API, so nearly every event finds its client here: no URL is built or hashed per event.
    last: Option<(String, Option<String>, Arc<dyn ManagementApi>)>,
}

impl Clients {
    pub(crate) fn new(connect: Box<ClientFactory>, endpoint: Endpoint) -> Self {
        Clients {
            connect,
            endpoint,
            cache: Mutex::default(),
        }
    }

    /// Where the clients send.
    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// How many clients were built so far.
    #[cfg(test)]
    pub(crate) fn built(&self) -> usize {
        self.lock().by_url.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The client of `endpoint` (a URL).
    pub(crate) fn get(&self, endpoint: &str) -> Arc<dyn ManagementApi> {
        self.lock().get(endpoint, &self.connect)
    }

    /// The client that answers `event`'s connection: the fixed endpoint's, or that of the
    /// event's domain name and stage; `Err` says why they make no URL.
    pub(crate) fn for_event(
        &self,
        event: &crate::event::Fields,
    ) -> Result<Arc<dyn ManagementApi>, String> {
        let (domain, stage) = match &self.endpoint {
            Endpoint::Fixed(url) => (url.as_str(), None),
            Endpoint::FromEvent => (
                event.domain_name.as_deref().unwrap_or_default(),
                event.stage.as_deref(),
            ),
        };
        let mut cache = self.lock();
        if let Some((last_domain, last_stage, client)) = &cache.last {
            if last_domain == domain && last_stage.as_deref() == stage {
                return Ok(client.clone());
            }
        }
        let url = match &self.endpoint {
            Endpoint::Fixed(url) => url.clone(),
            Endpoint::FromEvent => {
                let (domain, stage) = crate::inbound::endpoint_parts(event)?;
                let scheme = if is_loopback(domain) { "http" } else { "https" };
                match stage {
                    Some(stage) => format!("{scheme}://{domain}/{stage}"),
                    None => format!("{scheme}://{domain}"),
                }
            }
        };
        let client = cache.get(&url, &self.connect);
        cache.last = Some((domain.to_owned(), stage.map(str::to_owned), client.clone()));
        Ok(client)
    }
}

impl Cache {
    fn get(&mut self, endpoint: &str, connect: &ClientFactory) -> Arc<dyn ManagementApi> {
        if let Some(client) = self.by_url.get(endpoint) {
            return client.clone();
        }
        tracing::debug!(endpoint, "building a Management API client");
        let client = connect(endpoint);
        self.by_url.insert(endpoint.to_owned(), client.clone());
        client
    }
}

/// Whether `domain` (a host, with or without a port) is this machine: no API Gateway domain is.
fn is_loopback(domain: &str) -> bool {
    let host = match domain.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => domain,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Named(String);

    #[async_trait]
    impl ManagementApi for Named {
        fn endpoint(&self) -> &str {
            &self.0
        }
        async fn post(&self, _: &str, _: &[u8]) -> Result<(), SendError> {
            Ok(())
        }
        async fn delete(&self, _: &str) -> Result<(), SendError> {
            Ok(())
        }
        async fn info(&self, _: &str) -> Result<ConnectionInfo, SendError> {
            Err(SendError::Forbidden {
                endpoint: self.0.clone(),
            })
        }
    }

    fn clients(endpoint: Endpoint) -> Clients {
        Clients::new(
            Box::new(|url: &str| Arc::new(Named(url.to_owned())) as Arc<dyn ManagementApi>),
            endpoint,
        )
    }

    fn event(domain: &str, stage: &str) -> crate::event::Fields {
        crate::event::Fields {
            domain_name: Some(domain.into()),
            stage: Some(stage.into()),
            ..Default::default()
        }
    }

    #[test]
    fn each_endpoint_gets_one_client_and_a_bad_domain_none() {
        let clients = clients(Endpoint::FromEvent);
        let aws = "abc.execute-api.eu-west-1.amazonaws.com";
        for stage in ["prod", "prod", "dev", "prod"] {
            let client = clients.for_event(&event(aws, stage)).unwrap();
            assert_eq!(client.endpoint(), format!("https://{aws}/{stage}"));
        }
        let local = clients.for_event(&event("127.0.0.1:3001", "")).unwrap();
        assert_eq!(local.endpoint(), "http://127.0.0.1:3001");
        assert_eq!(clients.built(), 3);
        // Checked whenever it is not the last endpoint's, right after a good one too.
        assert!(clients.for_event(&event("a b", "prod")).is_err());
        assert!(clients.for_event(&event(aws, "a/b")).is_err());
        assert_eq!(clients.built(), 3);
    }

    #[test]
    fn a_fixed_endpoint_serves_every_event() {
        let clients = clients(Endpoint::Fixed("https://chat.example.com/ws".into()));
        for domain in ["abc.execute-api.eu-west-1.amazonaws.com", "a b"] {
            let client = clients.for_event(&event(domain, "prod")).unwrap();
            assert_eq!(client.endpoint(), "https://chat.example.com/ws");
        }
        assert_eq!(clients.built(), 1);
    }

    #[test]
    fn loopback_domains_are_spoken_to_over_http() {
        for local in [
            "127.0.0.1:3001",
            "localhost:80",
            "[::1]:3001",
            "127.0.0.1",
            "localhost",
        ] {
            assert!(is_loopback(local), "{local}");
        }
        for remote in [
            "abc.execute-api.eu-west-1.amazonaws.com",
            "10.0.0.1:80",
            "chat.example.com",
        ] {
            assert!(!is_loopback(remote), "{remote}");
        }
    }
}
