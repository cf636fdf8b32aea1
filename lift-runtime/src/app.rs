//! [`App`]: a builder of the [`Service`] (router, middleware, store, settings), and `run`, which
//! hands the service to the Lambda runtime or to the local emulator.

use std::sync::Arc;
use std::time::Duration;

use crate::fanout::{Fanout, FanoutConfig, FanoutQueue};
use crate::middleware::{erase, ErasedMiddleware, Middleware};
use crate::outbound::BroadcastConfig;
use crate::outbound::{Clients, Endpoint, ManagementApi};
use crate::router::Router;
use crate::service::{Parts, Service};
use crate::store::{ConnectionStore, MemoryStore, EXPIRY_SLACK, MAX_CONNECTION_LIFETIME};

/// Builds the Management API client of an endpoint.
type Connect = dyn Fn(&str) -> Arc<dyn ManagementApi> + Send + Sync;

/// A WebSocket app: a router plus its configuration.
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
    store: Option<Arc<dyn ConnectionStore>>,
    connection_ttl: Duration,
    broadcast: BroadcastConfig,
    management_endpoint: Option<String>,
    #[cfg(feature = "lambda")]
    aws_config: Option<aws_config::SdkConfig>,
    #[cfg(feature = "lambda")]
    client: crate::outbound::ManagementClient,
    connect: Option<Box<Connect>>,
    #[cfg(feature = "local")]
    local: crate::local::LocalConfig,
    fanout: FanoutConfig,
    fanout_queue: Option<Arc<dyn FanoutQueue>>,
}

impl App {
    /// An app serving `router` (the `router()` that `#[ws_app]` generates), with a
    /// [`MemoryStore`] unless [`store`](Self::store) says otherwise.
    pub fn new(router: Router) -> Self {
        App {
            router,
            middleware: Vec::new(),
            store: None,
            connection_ttl: MAX_CONNECTION_LIFETIME + EXPIRY_SLACK,
            broadcast: BroadcastConfig::default(),
            management_endpoint: None,
            #[cfg(feature = "lambda")]
            aws_config: None,
            #[cfg(feature = "lambda")]
            client: crate::outbound::ManagementClient::default(),
            connect: None,
            #[cfg(feature = "local")]
            local: crate::local::LocalConfig::default(),
            fanout: FanoutConfig::default(),
            fanout_queue: None,
        }
    }

    /// When a room broadcast hands its members off to the fan-out queue, and how the queue's
    /// consumers send (see [`fanout`](crate::fanout)). In Lambda and the emulator the
    /// `LIFT_FANOUT_*` environment variables override it.
    pub fn fanout(mut self, config: FanoutConfig) -> Self {
        self.fanout = config;
        self
    }

    /// Hands big rooms' broadcasts to this queue. Without it: in Lambda an
    /// [`SqsQueue`](crate::fanout::SqsQueue) on `LIFT_FANOUT_QUEUE_URL` when that is set (else
    /// no fan-out); in the emulator an in-process [`LocalQueue`](crate::fanout::LocalQueue), or
    /// SQS when `LIFT_FANOUT_QUEUE_URL` and `AWS_ENDPOINT_URL_SQS` are set.
    pub fn fanout_queue(mut self, queue: impl FanoutQueue) -> Self {
        self.fanout_queue = Some(Arc::new(queue));
        self
    }

    /// Runs `middleware` around every event. The first one added is the outermost:
    /// `first → second → handler → second → first`. See [`middleware`](crate::middleware).
    pub fn middleware<M>(mut self, middleware: M) -> Self
    where
        M: for<'a> Middleware<'a>,
    {
        self.middleware.push(erase(middleware));
        self
    }

    /// How broadcasts and sends are paced and retried (concurrency, attempts, backoff,
    /// headroom before the deadline).
    pub fn broadcast(mut self, config: BroadcastConfig) -> Self {
        self.broadcast = config;
        self
    }

    /// How long a stored connection counts after it opened (its `expires_at`, DynamoDB's TTL).
    /// Default: API Gateway's maximum connection lifetime (2 h) plus 10 minutes of slack.
    pub fn connection_ttl(mut self, ttl: Duration) -> Self {
        self.connection_ttl = ttl;
        self
    }

    /// Keeps connections in `store`. Without it: a `DynamoDbStore` on `LIFT_TABLE_NAME` when
    /// that is set (with the `dynamodb` feature), else a [`MemoryStore`].
    pub fn store(mut self, store: impl ConnectionStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Calls the Management API at this URL instead of `https://{domainName}/{stage}` from the
    /// event (needed behind a custom domain). In Lambda, `LIFT_MANAGEMENT_ENDPOINT` sets it too.
    pub fn management_endpoint(mut self, url: impl Into<String>) -> Self {
        self.management_endpoint = Some(url.into());
        self
    }

    /// The AWS configuration (credentials, region; for the SDK client also retries and HTTP
    /// client) the Management API clients are built from. By default: the standard AWS
    /// configuration chain in Lambda ([`lambda_service`](Self::lambda_service)); fixed local
    /// credentials (`local`/`local`, `us-east-1`) elsewhere.
    #[cfg(feature = "lambda")]
    pub fn aws_config(mut self, config: aws_config::SdkConfig) -> Self {
        self.aws_config = Some(config);
        self
    }

    /// Which client calls the Management API: [`ManagementClient::Http`] (hyper, signed with
    /// `aws-sigv4`; the default) or [`ManagementClient::Sdk`] (`aws-sdk-apigatewaymanagement`).
    /// Both map errors alike; see [`outbound`](crate::outbound).
    ///
    /// [`ManagementClient::Http`]: crate::outbound::ManagementClient::Http
    /// [`ManagementClient::Sdk`]: crate::outbound::ManagementClient::Sdk
    #[cfg(feature = "lambda")]
    pub fn management_client(mut self, client: crate::outbound::ManagementClient) -> Self {
        self.client = client;
        self
    }

    /// Builds each endpoint's Management API client with `connect` (given the endpoint URL)
    /// instead of the built-in clients: a client of your own, or one that records or fakes the
    /// calls for a test or a benchmark. It takes precedence over
    /// [`management_client`](Self::management_client) and [`aws_config`](Self::aws_config).
    pub fn management_api(
        mut self,
        connect: impl Fn(&str) -> Arc<dyn ManagementApi> + Send + Sync + 'static,
    ) -> Self {
        self.connect = Some(Box::new(connect));
        self
    }

    /// Settings of the local emulator (address, limits, timeouts).
    #[cfg(feature = "local")]
    pub fn local(mut self, config: crate::local::LocalConfig) -> Self {
        self.local = config;
        self
    }

    /// The routing table.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// The route selection expression API Gateway routes messages by (the emulator's, which
    /// the deployment template copies): `$request.body.action` unless the
    /// [`LocalConfig`](crate::local::LocalConfig) says otherwise.
    pub fn route_selection(&self) -> &str {
        #[cfg(feature = "local")]
        {
            &self.local.route_selection
        }
        #[cfg(not(feature = "local"))]
        {
            "$request.body.action"
        }
    }

    /// Picks the store from the environment (`LIFT_TABLE_NAME`) if none was given, locally.
    #[cfg(feature = "local")]
    async fn local_store_from_env(&mut self) -> Result<(), crate::Error> {
        #[cfg(feature = "dynamodb")]
        if self.store.is_none() {
            if let Some(store) = crate::store::dynamodb::from_env().await? {
                self.store = Some(Arc::new(store));
            }
        }
        Ok(())
    }

    /// The service, with Management API clients built by `connect` for each endpoint.
    fn build(
        self,
        connect: impl Fn(&str) -> Arc<dyn ManagementApi> + Send + Sync + 'static,
    ) -> Service {
        let endpoint = match self.management_endpoint {
            Some(url) => Endpoint::Fixed(url),
            None => Endpoint::FromEvent,
        };
        let store = self.store.unwrap_or_else(|| Arc::new(MemoryStore::new()));
        let fanout = self
            .fanout_queue
            .map(|queue| Fanout::new(self.fanout, queue));
        Service::new(Parts {
            router: self.router,
            middleware: self.middleware,
            store,
            connection_ttl: self.connection_ttl,
            broadcast: Arc::new(self.broadcast),
            clients: Clients::new(Box::new(connect), endpoint),
            fanout: fanout.map(Arc::new),
        })
    }

    /// The service this app runs: its Management API clients call
    /// `https://{domainName}/{stage}` from each event (plain `http` for a loopback domain, as the
    /// emulator's) or the [`management_endpoint`](Self::management_endpoint), with the
    /// [`aws_config`](Self::aws_config), or fixed local credentials when none was given, through
    /// the [`management_client`](Self::management_client). Nothing is read from the environment. Feed it events yourself, as tests do, or
    /// hand it to a transport: [`lambda::run`](crate::lambda::run) or
    /// [`Emulator::start`](crate::local::Emulator::start).
    #[cfg(feature = "lambda")]
    pub fn service(mut self) -> Service {
        use crate::outbound::{HttpManagement, HttpShared, ManagementClient, SdkManagement};
        if let Some(connect) = self.connect.take() {
            return self.build(connect);
        }
        let config = self.aws_config.take().unwrap_or_else(local_aws_config);
        let shared = match self.client {
            ManagementClient::Http => HttpShared::new(&config)
                .map_err(|err| {
                    // The SDK client reports the same gap on each call, in the SDK's words.
                    tracing::warn!(error = %err, "using the SDK's Management API client instead");
                })
                .ok(),
            ManagementClient::Sdk => None,
        };
        match shared {
            Some(shared) => {
                self.build(move |endpoint| Arc::new(HttpManagement::new(shared.clone(), endpoint)))
            }
            None => {
                let config = aws_sdk_apigatewaymanagement::Config::from(&config);
                self.build(move |endpoint| Arc::new(SdkManagement::new(&config, endpoint)))
            }
        }
    }

    /// The service as [`run`](Self::run) gives it to `lambda_runtime`: the AWS configuration from
    /// the environment (read once, at cold start), a `DynamoDbStore` on `LIFT_TABLE_NAME` when
    /// set and no store was given, `LIFT_MANAGEMENT_ENDPOINT` honoured. A `tower::Service` of
    /// Lambda events, to wrap in `tower` layers and run yourself.
    ///
    /// ```no_run
    /// # use lift_runtime::prelude::*;
    /// # #[ws_app] mod app { use lift_runtime::prelude::*; #[ws_default] async fn d() -> WsResult { Ok(()) } }
    /// # async fn demo() -> Result<(), lift_runtime::Error> {
    /// let service = lift_runtime::App::new(app::router()).lambda_service().await?;
    /// let service = tower::ServiceBuilder::new()
    ///     .layer(tower::layer::util::Identity::new()) // your tower layers here
    ///     .service(service);
    /// lambda_runtime::run(service).await
    /// # }
    /// ```
    #[cfg(feature = "lambda")]
    pub async fn lambda_service(mut self) -> Result<Service, crate::Error> {
        // Loaded once, at cold start, for every client: the store's, the Management API's and
        // the fan-out queue's.
        if self.aws_config.is_none() {
            let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            self.aws_config = Some(config);
        }
        #[cfg(feature = "dynamodb")]
        if self.store.is_none() {
            if let Some(table) = env_setting("LIFT_TABLE_NAME") {
                let config = self.aws_config.as_ref().expect("loaded above");
                let store = crate::store::dynamodb::with_config(config, table, false).await?;
                self.store = Some(Arc::new(store));
            }
        }
        if self.management_endpoint.is_none() {
            self.management_endpoint = std::env::var("LIFT_MANAGEMENT_ENDPOINT")
                .ok()
                .filter(|s| !s.is_empty());
        }
        self.fanout = std::mem::take(&mut self.fanout).with_env();
        #[cfg(feature = "sqs")]
        if self.fanout_queue.is_none() {
            if let Some(url) = env_setting("LIFT_FANOUT_QUEUE_URL") {
                let config = self.aws_config.as_ref().expect("loaded above");
                let queue = crate::fanout::SqsQueue::new(config, url);
                self.fanout_queue = Some(Arc::new(queue));
            }
        }
        Ok(self.service())
    }

    /// The service and emulator settings [`run`](Self::run) uses outside Lambda: a
    /// `DynamoDbStore` on `LIFT_TABLE_NAME` when set and no store was given (the table created
    /// if missing), and the Management API of the emulator itself.
    #[cfg(feature = "local")]
    pub async fn local_service(
        mut self,
    ) -> Result<(Service, crate::local::LocalConfig), crate::Error> {
        self.local_store_from_env().await?;
        if self.management_endpoint.take().is_some() {
            tracing::debug!("ignoring the Management API endpoint: the emulator serves its own");
        }
        self.fanout = std::mem::take(&mut self.fanout).with_env();
        if self.fanout_queue.is_none() {
            self.fanout_queue = Some(local_fanout_queue(&self.fanout).await);
        }
        let config = std::mem::take(&mut self.local);
        Ok((self.service(), config))
    }

    /// Runs the app: on the Lambda runtime when `AWS_LAMBDA_RUNTIME_API` is set
    /// ([`lambda_service`](Self::lambda_service)), else on the local emulator (at
    /// `LIFT_LOCAL_ADDR`, default `127.0.0.1:3001`) until Ctrl-C
    /// ([`local_service`](Self::local_service)).
    ///
    /// It installs a log subscriber unless the program has one (see
    /// [`init_logging`](crate::observe::init_logging)): JSON in Lambda, readable locally. It
    /// does not look at the program's arguments: to print the deployment documents, see
    /// [`deploy::print_if_asked`](crate::deploy::print_if_asked).
    #[cfg(feature = "lambda")]
    pub async fn run(self) -> Result<(), crate::Error> {
        let lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
        crate::observe::init_logging(lambda);
        if lambda {
            return crate::lambda::run(self.lambda_service().await?).await;
        }
        #[cfg(feature = "local")]
        {
            let (service, config) = self.local_service().await?;
            crate::local::run(service, config).await
        }
        #[cfg(not(feature = "local"))]
        {
            Err("AWS_LAMBDA_RUNTIME_API is not set and the `local` feature is off: nothing to run on".into())
        }
    }
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("router", &self.router)
            .field("management_endpoint", &self.management_endpoint)
            .finish_non_exhaustive()
    }
}

/// A non-empty environment variable.
#[cfg(any(feature = "sqs", feature = "dynamodb"))]
fn env_setting(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// The emulator's fan-out queue: SQS when `LIFT_FANOUT_QUEUE_URL` and `AWS_ENDPOINT_URL_SQS`
/// say where (credentials and region from the environment, else local ones; see
/// [`aws_env::load`](crate::aws_env::load)), else in-process.
#[cfg(feature = "local")]
async fn local_fanout_queue(config: &FanoutConfig) -> Arc<dyn FanoutQueue> {
    use crate::fanout::{LocalQueue, LocalQueueConfig};
    #[cfg(feature = "sqs")]
    if let (Some(url), Some(_)) = (
        env_setting("LIFT_FANOUT_QUEUE_URL"),
        env_setting("AWS_ENDPOINT_URL_SQS"),
    ) {
        let shared = crate::aws_env::load(true).await;
        tracing::info!(queue = %url, "fan-out through SQS");
        let queue = crate::fanout::SqsQueue::new(&shared, url).consumers(config.consumers as usize);
        return Arc::new(queue);
    }
    Arc::new(LocalQueue::with_config(LocalQueueConfig {
        consumers: config.consumers as usize,
        ..LocalQueueConfig::default()
    }))
}

/// Credentials and region for talking to the local emulator.
#[cfg(feature = "lambda")]
fn local_aws_config() -> aws_config::SdkConfig {
    use aws_sdk_apigatewaymanagement::config::{
        BehaviorVersion, Credentials, Region, SharedCredentialsProvider,
    };
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "local",
            "local",
            None,
            None,
            "lift-local",
        )))
        .build()
}
