//! [`App`]: what an app is made of (router, middleware, store, settings), and the two ways to
//! start it: [`App::run`], which hands it to the Lambda runtime or to the local emulator, and
//! [`App::service`], the [`Service`] itself.

use std::sync::Arc;

use crate::fanout::{Fanout, FanoutQueue};
use crate::middleware::{erase, ErasedMiddleware, Middleware};
use crate::observe::Metrics;
use crate::outbound::{ClientFactory, Clients, Endpoint, ManagementApi};
use crate::router::Router;
use crate::service::{Parts, Service};
use crate::settings::Settings;
use crate::store::{ConnectionStore, MemoryStore};

/// A WebSocket app: a router and what it runs with.
///
/// ```no_run
/// use lift_runtime::prelude::*;
///
/// #[ws_app]
/// mod echo {
///     use lift_runtime::prelude::*;
///
///     #[ws_default]
///     async fn echo(ctx: &WsContext, body: String) -> WsResult {
///         ctx.reply(&body).await?;
///         Ok(())
///     }
/// }
///
/// #[tokio::main]
/// async fn main() -> Result<(), lift_runtime::Error> {
///     // In Lambda (AWS_LAMBDA_RUNTIME_API set): the Lambda runtime; elsewhere: the local
///     // emulator on LIFT_LOCAL_ADDR (default 127.0.0.1:3001).
///     lift_runtime::App::new(echo::router()).run().await
/// }
/// ```
pub struct App {
    router: Router,
    middleware: Vec<Arc<dyn ErasedMiddleware>>,
    /// The middleware that also run as the `$connect` authorizer: `JwtAuth`, `AllowedOrigins`.
    authorize: Vec<Arc<dyn ErasedMiddleware>>,
    store: Option<Arc<dyn ConnectionStore>>,
    settings: Option<Settings>,
    clients: Option<Box<ClientFactory>>,
    fanout_queue: Option<Arc<dyn FanoutQueue>>,
    /// The app's [`Metrics`] middleware, which also writes the fan-out consumer's lines.
    metrics: Option<Metrics>,
}

impl App {
    /// An app serving `router` (the `router()` that `#[ws_app]` generates).
    pub fn new(router: Router) -> Self {
        App {
            router,
            middleware: Vec::new(),
            authorize: Vec::new(),
            store: None,
            settings: None,
            clients: None,
            fanout_queue: None,
            metrics: None,
        }
    }

    /// Runs `middleware` around every event. The first one added is the outermost:
    /// `first → second → handler → second → first`. See [`Middleware`].
    pub fn middleware<M>(mut self, middleware: M) -> Self
    where
        M: for<'a> Middleware<'a>,
    {
        let any: &dyn std::any::Any = &middleware;
        if let Some(metrics) = any.downcast_ref::<Metrics>() {
            self.metrics.get_or_insert_with(|| metrics.clone());
        }
        // Tokens expire: the app serves the route a client presents a fresh one on.
        #[cfg(feature = "jwt")]
        if let Some(auth) = any.downcast_ref::<crate::auth::JwtAuth>() {
            self.router = self.router.with_builtin(&crate::auth::TOKEN_ROUTE);
            self.authorize.push(erase(auth.clone()));
        }
        // What decides who may connect also runs as the `$connect` authorizer.
        if let Some(origins) = any.downcast_ref::<crate::auth::AllowedOrigins>() {
            self.authorize.push(erase(origins.clone()));
        }
        self.middleware.push(erase(middleware));
        self
    }

    /// Runs with these settings instead of reading them from the environment when it starts
    /// ([`Settings::from_env`]): code overrides the environment.
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = Some(settings);
        self
    }

    /// Keeps connections in `store`. Without it: a
    /// [`DynamoDbStore`](crate::store::DynamoDbStore) on [`Settings::table_name`] when that is
    /// set (feature `dynamodb`; outside Lambda the table is created if missing), else a
    /// [`MemoryStore`].
    pub fn store(mut self, store: impl ConnectionStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Hands big rooms' broadcasts to this queue (see [`fanout`](crate::fanout)). Without it:
    /// an [`SqsQueue`](crate::fanout::SqsQueue) on
    /// [`FanoutSettings::queue_url`](crate::settings::FanoutSettings::queue_url) when that is
    /// set (feature `sqs`; outside Lambda only when `AWS_ENDPOINT_URL_SQS` names a server too),
    /// else on the emulator an in-process [`LocalQueue`](crate::fanout::LocalQueue), else no
    /// fan-out.
    pub fn fanout_queue(mut self, queue: impl FanoutQueue) -> Self {
        self.fanout_queue = Some(Arc::new(queue));
        self
    }

    /// Builds each endpoint's Management API client with `clients` (given the endpoint's URL)
    /// instead of the built-in one: a client that records the calls or injects faults, for a
    /// test or a benchmark.
    pub fn management_api(
        mut self,
        clients: impl Fn(&str) -> Arc<dyn ManagementApi> + Send + Sync + 'static,
    ) -> Self {
        self.clients = Some(Box::new(clients));
        self
    }

    /// This app's service for the emulator: its settings (given, else the environment's),
    /// without a Management API endpoint (the emulator serves its own); a test's (`testing`)
    /// on a free loopback port, its Management API strict about signatures.
    #[cfg(feature = "local")]
    pub(crate) async fn emulator_service(mut self, testing: bool) -> Result<Service, crate::Error> {
        let mut settings = self.take_settings()?;
        if settings.management_endpoint.take().is_some() {
            tracing::debug!("ignoring the Management API endpoint: the emulator serves its own");
        }
        if testing {
            settings.local.addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
            // Strict, so a test catches a signing bug: only the keys the emulator knows, each
            // request's signature verified (unless the environment asks otherwise).
            settings.local.any_access_key = match std::env::var("LIFT_LOCAL_STRICT") {
                Ok(on) if !on.trim().is_empty() => {
                    !crate::settings::switch("LIFT_LOCAL_STRICT", &on)?
                }
                _ => false,
            };
        }
        // Fan-out runs locally too: on SQS when the settings name a queue and the environment
        // an SQS endpoint (see `service`), else on an in-process queue.
        #[cfg(feature = "sqs")]
        let sqs = settings.fanout.queue_url.is_some() && crate::settings::sqs_endpoint_set();
        #[cfg(not(feature = "sqs"))]
        let sqs = false;
        if self.fanout_queue.is_none() && !sqs {
            let queue = crate::fanout::LocalQueue::with_config(crate::fanout::LocalQueueConfig {
                consumers: settings.fanout.consumers as usize,
                ..Default::default()
            });
            self.fanout_queue = Some(Arc::new(queue));
        }
        self.settings(settings).service().await
    }

    /// The settings given in code, else the environment's (read now).
    fn take_settings(&mut self) -> Result<Settings, crate::Error> {
        match self.settings.take() {
            Some(settings) => Ok(settings),
            None => Settings::from_env(),
        }
    }

    /// The routing table.
    pub(crate) fn router(&self) -> &Router {
        &self.router
    }

    /// The settings the deployment documents and the client describe: those given in code,
    /// else the environment's, as [`run`](Self::run) would read them (a variable it cannot read
    /// is reported, and the defaults used).
    pub(crate) fn described_settings(&self) -> std::borrow::Cow<'_, Settings> {
        match &self.settings {
            Some(settings) => std::borrow::Cow::Borrowed(settings),
            None => std::borrow::Cow::Owned(Settings::from_env().unwrap_or_else(|err| {
                tracing::warn!(error = %err, "the environment's settings could not be read: describing the defaults");
                Settings::default()
            })),
        }
    }

    /// The service this app runs, as [`run`](Self::run) starts it here: its settings (from
    /// the environment unless [`settings`](Self::settings) gave them), its store and fan-out
    /// queue (from the settings unless given), and its Management API client, which calls
    /// `https://{domainName}/{stage}` from each event (plain `http` for a loopback domain: the
    /// emulator's) or [`Settings::management_endpoint`] when set (the emulator, which serves
    /// its own, leaves it out). In Lambda the AWS
    /// configuration is loaded once, here, from the environment, for every client; elsewhere
    /// the Management API is the emulator's, signed with the credentials it accepts.
    ///
    /// Feed it events yourself ([`Service::handle`]), as an app's tests do, or hand it to
    /// `lambda_runtime` with `tower` layers of your own (see [`Service`]).
    pub async fn service(mut self) -> Result<Service, crate::Error> {
        // Without a feature that talks to AWS, nothing depends on where it runs.
        #[cfg_attr(
            not(any(feature = "lambda", feature = "dynamodb", feature = "sqs")),
            allow(unused_variables)
        )]
        let lambda = crate::settings::in_lambda();
        let settings = self.take_settings()?;
        if let Some(key) = &settings.keepalive_route {
            if self.router.route(key).is_some() {
                return Err(format!(
                    "the keep-alive route `{key}` is also a route of the app: API Gateway would \
                     answer it without calling the handler; choose another key"
                )
                .into());
            }
        }
        // Loaded once, for every client that needs it: the store's, the fan-out queue's and,
        // in Lambda, the Management API's.
        #[cfg(any(feature = "dynamodb", feature = "sqs", feature = "lambda"))]
        let mut aws = Aws::new(lambda);
        #[cfg(feature = "dynamodb")]
        if self.store.is_none() {
            if let Some(table) = &settings.table_name {
                let config = aws.config().await;
                let store =
                    crate::store::dynamodb::with_config(config, table.clone(), !lambda).await?;
                self.store = Some(Arc::new(store));
            }
        }
        if self.fanout_queue.is_none() {
            #[cfg(feature = "sqs")]
            if let Some(url) = &settings.fanout.queue_url {
                #[cfg(feature = "local")]
                let use_sqs = lambda || crate::settings::sqs_endpoint_set();
                #[cfg(not(feature = "local"))]
                let use_sqs = true;
                if use_sqs {
                    tracing::info!(queue = %url, "fan-out through SQS");
                    let queue = crate::fanout::SqsQueue::new(aws.config().await, url.clone())
                        .consumers(settings.fanout.consumers as usize);
                    self.fanout_queue = Some(Arc::new(queue));
                }
            }
        }
        let endpoint = match &settings.management_endpoint {
            Some(url) => Endpoint::Fixed(url.clone()),
            None => Endpoint::FromEvent,
        };
        let clients = match self.clients.take() {
            Some(clients) => clients,
            None => {
                #[cfg(feature = "lambda")]
                let config = if lambda {
                    aws.config().await.clone()
                } else {
                    local_aws_config()
                };
                #[cfg(all(feature = "local", not(feature = "lambda")))]
                let config = local_aws_config();
                #[cfg(not(any(feature = "lambda", feature = "local")))]
                let config = ();
                built_in_clients(&config, settings.management_ca_file.as_deref())?
            }
        };
        let fanout = self
            .fanout_queue
            .map(|queue| Arc::new(Fanout::new(settings.fanout.clone(), queue)));
        // Apps with room history serve the replay route.
        let router = match settings.history {
            Some(_) => self.router.with_builtin(&crate::replay::ROUTE),
            None => self.router,
        };
        Ok(Service::new(Parts {
            router,
            middleware: self.middleware,
            authorize: self.authorize,
            store: self.store.unwrap_or_else(|| Arc::new(MemoryStore::new())),
            broadcast: Arc::new(settings.broadcast.clone()),
            settings,
            clients: Clients::new(clients, endpoint),
            fanout,
            metrics: self.metrics,
        }))
    }

    /// Runs the app: on the Lambda runtime when `AWS_LAMBDA_RUNTIME_API` is set (feature
    /// `lambda`), else on the local emulator at [`LocalSettings::addr`] (default
    /// `127.0.0.1:3001`, feature `local`) until Ctrl-C; the [`service`](Self::service) either
    /// way.
    ///
    /// It installs a log subscriber unless the program has one: JSON lines in Lambda (one per
    /// event, with the `ws_event` span's request id, X-Ray trace header, connection id, route key and event type;
    /// see [`observe::lambda_subscriber`](crate::observe::lambda_subscriber)), readable lines
    /// locally, filtered by [`Settings::log_filter`] (`RUST_LOG`). It
    /// does not look at the program's arguments: to print the deployment documents, see
    /// [`deploy::print_if_asked`](crate::deploy::print_if_asked).
    ///
    /// [`LocalSettings::addr`]: crate::settings::LocalSettings::addr
    pub async fn run(mut self) -> Result<(), crate::Error> {
        let lambda = crate::settings::in_lambda();
        // The environment is read once, here; the service takes these settings.
        let settings = self.take_settings()?;
        crate::observe::init_logging(lambda, &settings.log_filter);
        self.settings = Some(settings);
        if lambda {
            #[cfg(feature = "lambda")]
            return lambda_runtime::run(crate::lambda::LambdaService(self.service().await?)).await;
            #[cfg(not(feature = "lambda"))]
            return Err("running in Lambda, but the `lambda` feature is off".into());
        }
        // The emulator's spans are exported every second (in Lambda, by each invocation).
        #[cfg(all(feature = "local", feature = "otlp"))]
        tokio::spawn(async {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                every.tick().await;
                crate::observe::otlp::flush().await;
            }
        });
        #[cfg(feature = "local")]
        return crate::local::run(self.emulator_service(false).await?).await;
        #[cfg(not(feature = "local"))]
        Err(
            "AWS_LAMBDA_RUNTIME_API is not set and the `local` feature is off: nothing to run on"
                .into(),
        )
    }
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("router", &self.router)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The AWS configuration, loaded the first time a client needs it.
#[cfg(any(feature = "dynamodb", feature = "sqs", feature = "lambda"))]
struct Aws {
    lambda: bool,
    config: Option<aws_config::SdkConfig>,
}

#[cfg(any(feature = "dynamodb", feature = "sqs", feature = "lambda"))]
impl Aws {
    fn new(lambda: bool) -> Self {
        Aws {
            lambda,
            config: None,
        }
    }

    async fn config(&mut self) -> &aws_config::SdkConfig {
        if self.config.is_none() {
            self.config = Some(crate::settings::aws_config(self.lambda).await);
        }
        self.config.as_ref().expect("loaded above")
    }
}

/// The built-in Management API client of each endpoint, sharing one connection pool and the
/// credentials of `config`.
#[cfg(any(feature = "lambda", feature = "local"))]
fn built_in_clients(
    config: &aws_config::SdkConfig,
    extra_roots: Option<&std::path::Path>,
) -> Result<Box<ClientFactory>, crate::Error> {
    use crate::outbound::{HttpManagement, HttpShared};
    let shared = HttpShared::new(config, extra_roots)?;
    Ok(Box::new(move |endpoint: &str| {
        Arc::new(HttpManagement::new(shared.clone(), endpoint)) as Arc<dyn ManagementApi>
    }))
}

/// Without `lambda` and `local` there is no built-in client: every call says so.
#[cfg(not(any(feature = "lambda", feature = "local")))]
fn built_in_clients(
    _: &(),
    _: Option<&std::path::Path>,
) -> Result<Box<ClientFactory>, crate::Error> {
    Err(
        "no Management API client: turn on the `lambda` or `local` feature, or give one with \
         App::management_api"
            .into(),
    )
}

/// The credentials and region the emulator's Management API accepts (`local`/`local`,
/// `us-east-1`): outside Lambda the Management API is always the emulator's.
#[cfg(any(feature = "lambda", feature = "local"))]
fn local_aws_config() -> aws_config::SdkConfig {
    use crate::settings::{local_credentials, local_region};
    use aws_credential_types::provider::SharedCredentialsProvider;
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(local_region())
        .credentials_provider(SharedCredentialsProvider::new(local_credentials()))
        .build()
}
