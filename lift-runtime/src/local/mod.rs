//! The local emulator of API Gateway's WebSocket API: the same app, on your machine.
//!
//! [`App::run`](crate::App::run) starts it when not in Lambda; tests start it with
//! [`Emulator::start`] (or `testing::TestApp`). On one loopback port it serves:
//!
//! - **WebSocket** on `/` and `/{stage}`. The upgrade request becomes a `$connect` event (headers,
//!   query string, source IP); a non-2xx answer refuses the handshake with that HTTP status.
//!   Each text frame becomes a MESSAGE event routed by the route selection expression
//!   (`$request.body.action` by default): a body that is not JSON, or names no route, goes to
//!   `$default`. A close becomes `$disconnect` with the close code and reason.
//! - **The Management API** on `/@connections/{id}` and `/{stage}/@connections/{id}`
//!   (`POST` sends, `GET` describes, `DELETE` closes), wire-compatible with the AWS SDKs: an
//!   unknown id is `410` with `x-amzn-errortype: GoneException`. The app's own SDK client is
//!   pointed here, so sends take the same path as in Lambda.
//! - A plain `GET /` (no upgrade) serves the [`LocalConfig::page`], if any.
//! - **The inspector** on `/_lift` ([`Emulator::inspector_url`], printed at start-up): the open
//!   connections (user, rooms, age), each room's members, and the last 300 events (route key,
//!   connection, status or error code, duration) and Management API calls, refreshed every
//!   second from `/_lift/state` (JSON).
//! - **Fan-out**: the app's fan-out queue delivered to the app as SQS events, as Lambda's event
//!   source mapping would (see [`fanout`](crate::fanout)).
//!
//! # Limits and errors (as the app's clients see them)
//!
//! | situation | what happens |
//! |---|---|
//! | a frame over 32 KB, or a message over [`LocalConfig::max_message_size`] (128 KB) | closed with 1009 `Message too big`, as API Gateway does (the app never sees it), then `$disconnect` |
//! | a text frame that is not UTF-8 | closed with 1007, as API Gateway and RFC 6455 require, then `$disconnect` |
//! | binary frame | closed with 1003, as API Gateway does (it accepts text frames only), then `$disconnect` |
//! | a frame RFC 6455 forbids: unmasked, a reserved opcode or RSV bit, a control frame over 125 bytes or fragmented, a continuation with no message, a close code that may not be sent | closed with 1002 `Protocol error`, then `$disconnect` |
//! | a close frame from the client | answered with the same close code, then `$disconnect` with it |
//! | a ping | answered with a pong carrying its payload (the app never sees pings) |
//! | a plain `GET` (no `Upgrade: websocket`) | the [`LocalConfig::page`], if any, else 426 |
//! | a handshake for another WebSocket version | 426 with `Sec-WebSocket-Version: 13` |
//! | a handshake without `Sec-WebSocket-Key` or `Sec-WebSocket-Version`, or `POST` | 400, or 405 for `POST`; nothing reaches the app |
//! | a request head over 400 KB or with over 100 headers | 431 |
//! | a send to a connection while its `$connect` handler runs | `410 Gone`, as in API Gateway: the connection exists once `$connect` has returned (the runtime logs a hint) |
//! | handler slower than [`LocalConfig::invocation_timeout`] (29 s) | error frame `timeout`, connection stays open |
//! | no message for [`LocalConfig::idle_timeout`] (10 min) | closed with 1001 `Going away`, then `$disconnect` |
//! | open for [`LocalConfig::max_lifetime`] (2 h) | closed with 1001 `Going away`, then `$disconnect` |
//!
//! With [`LocalConfig::lenient_limits`], an oversized message is answered with an error frame
//! `message_too_large` and the connection kept, so a development session is not cut off by a
//! client's mistake; the default is what the app will meet in AWS. Browsers' `WebSocket` sends
//! each message as one frame: keep browser messages under 32 KB, or they close the connection
//! in AWS. In the other direction API Gateway splits messages over 32 KB into several
//! frames, which every WebSocket client reassembles; the emulator sends them as one frame.

mod api;
mod config;
mod inspector;
mod journal;
mod signature;
mod socket;
mod state;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::{get, post};
use tokio::sync::oneshot;

pub use config::{select_route, LocalConfig, DEFAULT_ADDR};
use state::EmulatorState;

use crate::service::Service;

/// Runs `service` on the emulator until Ctrl-C.
pub async fn run(service: Service, config: LocalConfig) -> Result<(), crate::Error> {
    let emulator = Emulator::start(service, config).await?;
    tracing::info!(
        "Lift local emulator: WebSocket on {}, Management API on {}, inspector on {}",
        emulator.url(),
        emulator.management_endpoint(),
        emulator.inspector_url()
    );
    tokio::signal::ctrl_c().await?;
    tracing::info!("shutting down");
    emulator.shutdown().await;
    Ok(())
}

/// A running emulator. Dropping it stops accepting new connections; [`shutdown`](Self::shutdown)
/// also closes the open ones (each gets its `$disconnect`).
pub struct Emulator {
    addr: SocketAddr,
    state: Arc<EmulatorState>,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
    /// The delivery of the fan-out queue's records to the service.
    fanout: Option<tokio::task::JoinHandle<()>>,
}

impl Emulator {
    /// Binds the address of `config` and serves `service` there.
    ///
    /// The service sends through the emulator's own Management API: a service from
    /// [`App::service`](crate::App::service) builds its endpoint from each event's domain, which
    /// the emulator sets to its own (loopback) address, spoken to over plain HTTP.
    pub async fn start(service: Service, config: LocalConfig) -> Result<Emulator, crate::Error> {
        let selection = config.selection_path()?;
        let addr = match config.addr {
            Some(addr) => addr,
            None => std::env::var("LIFT_LOCAL_ADDR")
                .ok()
                .filter(|s| !s.is_empty())
                .as_deref()
                .unwrap_or(DEFAULT_ADDR)
                .parse()
                .map_err(|err| {
                    format!("LIFT_LOCAL_ADDR is not an address like {DEFAULT_ADDR}: {err}")
                })?,
        };
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|err| format!("cannot listen on {addr}: {err}"))?;
        let addr = listener.local_addr()?;
        // Big rooms' broadcasts come back as SQS events, as Lambda's event source mapping would
        // deliver them.
        let fanout = service.deliver_fanout();
        let state = Arc::new(EmulatorState {
            service,
            config,
            selection,
            domain: addr.to_string(),
            connections: Mutex::new(HashMap::new()),
            journal: journal::Journal::default(),
        });

        let management = axum::Router::new()
            .route(
                "/@connections/{id}",
                post(api::post_root)
                    .get(api::get_root)
                    .delete(api::delete_root),
            )
            .route(
                "/{stage}/@connections/{id}",
                post(api::post_stage)
                    .get(api::get_stage)
                    .delete(api::delete_stage),
            )
            .route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                api::check_signature,
            ));
        let routes = axum::Router::new()
            .route("/", get(socket::upgrade_root))
            .route("/_lift", get(inspector::page))
            .route("/_lift/state", get(inspector::state))
            .route("/{stage}", get(socket::upgrade_stage))
            .merge(management)
            .with_state(state.clone())
            .into_make_service_with_connect_info::<SocketAddr>();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, routes).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(err) = serve.await {
                tracing::error!(error = %err, "the emulator stopped");
            }
        });
        Ok(Emulator {
            addr,
            state,
            stop: Some(stop),
            server,
            fanout,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The WebSocket URL clients connect to, `ws://127.0.0.1:3001`.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The Management API endpoint for the default stage, `http://127.0.0.1:3001/local`.
    pub fn management_endpoint(&self) -> String {
        format!("http://{}/{}", self.addr, self.state.config.stage)
    }

    /// The service the emulator feeds events to.
    pub fn service(&self) -> &Service {
        &self.state.service
    }

    /// The inspector page: live connections, rooms, and the last events and Management API
    /// calls (`http://ADDR/_lift`).
    pub fn inspector_url(&self) -> String {
        format!("http://{}/_lift", self.addr)
    }

    /// Ids of the open connections.
    pub fn connection_ids(&self) -> Vec<String> {
        self.state.lock().keys().cloned().collect()
    }

    /// Closes every connection (1001, `Going away`) and stops the server.
    pub async fn shutdown(mut self) {
        let open: Vec<_> = self.state.lock().drain().collect();
        for (_, conn) in open {
            conn.close(1001, "Going away");
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.server).await;
        if let Some(fanout) = self.fanout.take() {
            fanout.abort();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.server.abort();
        if let Some(fanout) = &self.fanout {
            fanout.abort();
        }
    }
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}
