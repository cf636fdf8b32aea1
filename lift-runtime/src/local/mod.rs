//! The local emulator of API Gateway's WebSocket API: the same app, on your machine. What it
//! does, as the app's clients see it, is documented on [`LocalSettings`](crate::settings::LocalSettings).

mod api;
mod config;
pub(crate) use config::select_route;
mod inspector;
mod invoke;
mod journal;
mod signature;
mod socket;
pub(crate) mod standalone;
mod state;
mod template;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::{get, post};
use tokio::sync::oneshot;

use state::EmulatorState;

use crate::service::Service;

/// Runs `service` on the emulator until Ctrl-C.
pub(crate) async fn run(service: Service) -> Result<(), crate::Error> {
    let emulator = Emulator::start(service).await?;
    tracing::info!(
        "Lift local emulator: WebSocket on {}, Management API on {}, inspector on {}",
        emulator.url(),
        emulator.management_endpoint(),
        emulator.inspector_url()
    );
    emulator.serve_until_ctrl_c().await
}

/// A running emulator. Dropping it stops accepting new connections; [`shutdown`](Self::shutdown)
/// also closes the open ones (each gets its `$disconnect`).
pub(crate) struct Emulator {
    addr: SocketAddr,
    state: Arc<EmulatorState>,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
    /// The delivery of the fan-out queue's records to the service.
    fanout: Option<tokio::task::JoinHandle<()>>,
    /// The presence sweep, every second (the template schedules it every minute).
    sweep: Option<tokio::task::JoinHandle<()>>,
}

impl Emulator {
    /// Binds the service's [`LocalSettings::addr`](crate::settings::LocalSettings::addr) and serves the service there, with its
    /// [`Settings::local`](crate::Settings::local) settings.
    ///
    /// The service sends through the emulator's own Management API: a service from
    /// [`App::service`](crate::App::service) builds its endpoint from each event's domain, which
    /// the emulator sets to its own (loopback) address, spoken to over plain HTTP.
    ///
    /// [`LocalSettings::addr`](crate::settings::LocalSettings::addr): crate::settings::LocalSettings::addr
    pub(crate) async fn start(service: Service) -> Result<Emulator, crate::Error> {
        let selection = service.settings().selection_path()?;
        let config = service.settings().local.clone();
        let keepalive = service.settings().keepalive_route.clone();
        let authorizer = service.settings().authorizer;
        // Big rooms' broadcasts come back as SQS events, as Lambda's event source mapping would
        // deliver them.
        let fanout = service.deliver_fanout();
        let presence = service.settings().presence;
        let backend = state::Backend::Service(service);
        let mut emulator = Self::serve(backend, config, selection, keepalive, authorizer).await?;
        emulator.fanout = fanout;
        if presence {
            let state::Backend::Service(service) = &emulator.state.backend else {
                unreachable!("the service was given")
            };
            let service = service.clone();
            let endpoint = emulator.management_endpoint();
            emulator.sweep = Some(tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_secs(1));
                loop {
                    every.tick().await;
                    service.sweep(&endpoint, None).await;
                }
            }));
        }
        Ok(emulator)
    }

    /// Binds `config.addr` and delivers the events of a template's WebSocket API to its
    /// functions behind an Invoke API (`lift-emulator`). The presence sweep a template
    /// schedules runs every 5 seconds.
    pub(crate) async fn start_functions(
        functions: invoke::Functions,
        config: crate::settings::LocalSettings,
    ) -> Result<Emulator, crate::Error> {
        let selection = functions.api.selection.clone();
        let authorizer = functions.api.authorizer.is_some();
        let backend = state::Backend::Functions(Box::new(functions));
        let mut emulator = Self::serve(backend, config, selection, None, authorizer).await?;
        let state = emulator.state.clone();
        let endpoint = emulator.management_endpoint();
        emulator.sweep = Some(tokio::spawn(async move {
            let state::Backend::Functions(functions) = &state.backend else {
                return;
            };
            if functions.api.sweeps.is_empty() {
                return;
            }
            let task = serde_json::json!({
                "liftTask": crate::service::PRESENCE_SWEEP,
                "managementEndpoint": endpoint,
            });
            let mut every = tokio::time::interval(Duration::from_secs(5));
            loop {
                every.tick().await;
                for function in &functions.api.sweeps {
                    functions
                        .invoke(function, &task, state.config.invocation_timeout)
                        .await;
                }
            }
        }));
        Ok(emulator)
    }

    async fn serve(
        backend: state::Backend,
        config: crate::settings::LocalSettings,
        selection: Vec<String>,
        keepalive: Option<String>,
        authorizer: bool,
    ) -> Result<Emulator, crate::Error> {
        let addr = config.addr;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|err| format!("cannot listen on {addr}: {err}"))?;
        let addr = listener.local_addr()?;
        let state = Arc::new(EmulatorState {
            backend,
            config,
            selection,
            keepalive,
            authorizer,
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
            .route("/_lift/close/{id}", axum::routing::post(inspector::close))
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
            fanout: None,
            sweep: None,
        })
    }

    /// The WebSocket URL clients connect to, `ws://127.0.0.1:3001`.
    pub(crate) fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The Management API endpoint for the default stage, `http://127.0.0.1:3001/local`.
    pub(crate) fn management_endpoint(&self) -> String {
        format!("http://{}/{}", self.addr, self.state.config.stage)
    }

    /// The service the emulator feeds events to.
    #[cfg(feature = "testing")]
    pub(crate) fn service(&self) -> &Service {
        match &self.state.backend {
            state::Backend::Service(service) => service,
            state::Backend::Functions(_) => unreachable!("TestApp runs a service"),
        }
    }

    /// The inspector page: live connections, rooms, and the last events and Management API
    /// calls (`http://ADDR/_lift`).
    pub(crate) fn inspector_url(&self) -> String {
        format!("http://{}/_lift", self.addr)
    }

    /// Ids of the open connections.
    #[cfg(feature = "testing")]
    pub(crate) fn connection_ids(&self) -> Vec<String> {
        self.state.lock().keys().cloned().collect()
    }

    /// Serves until Ctrl-C, then [`shutdown`](Self::shutdown).
    pub(crate) async fn serve_until_ctrl_c(self) -> Result<(), crate::Error> {
        tokio::signal::ctrl_c().await?;
        tracing::info!("shutting down");
        self.shutdown().await;
        Ok(())
    }

    /// Closes every connection (1001, `Going away`) and stops the server.
    pub(crate) async fn shutdown(mut self) {
        let open: Vec<_> = self.state.lock().drain().collect();
        for (_, conn) in open {
            conn.close(1001, "Going away");
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.server).await;
        for task in [self.fanout.take(), self.sweep.take()]
            .into_iter()
            .flatten()
        {
            task.abort();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.server.abort();
        for task in [&self.fanout, &self.sweep].into_iter().flatten() {
            task.abort();
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
