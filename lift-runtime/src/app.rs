//! [`App`]: builds the [`Service`] from a router and runs it on Lambda or on the local emulator.

use std::sync::Arc;
use std::time::Duration;

use crate::middleware::{erase, ErasedMiddleware, Middleware};
use crate::outbound::BroadcastConfig;
use crate::outbound::{Clients, ManagementApi};
use crate::router::Router;
use crate::service::{Endpoint, Service};
use crate::store::{ConnectionStore, MemoryStore, EXPIRY_SLACK, MAX_CONNECTION_LIFETIME};

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
    pub(crate) router: Router,
    pub(crate) middleware: Vec<Arc<dyn ErasedMiddleware>>,
    pub(crate) store: Option<Arc<dyn ConnectionStore>>,
    pub(crate) connection_ttl: Duration,
    pub(crate) broadcast: BroadcastConfig,
    pub(crate) management_endpoint: Option<String>,
    #[cfg(feature = "lambda")]
    pub(crate) sdk_config: Option<aws_sdk_apigatewaymanagement::Config>,
    #[cfg(feature = "local")]
    pub(crate) local: crate::local::LocalConfig,
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
            sdk_config: None,
            #[cfg(feature = "local")]
            local: crate::local::LocalConfig::default(),
        }
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

    /// The configuration (credentials, region, retries, HTTP client) the Management API clients
    /// are built from. By default: the standard AWS configuration chain in Lambda; fixed local
    /// credentials elsewhere.
    #[cfg(feature = "lambda")]
    pub fn management_config(mut self, config: aws_sdk_apigatewaymanagement::Config) -> Self {
        self.sdk_config = Some(config);
        self
    }

    /// Settings of the local emulator (address, limits, timeouts).
    #[cfg(feature = "local")]
    pub fn local(mut self, config: crate::local::LocalConfig) -> Self {
        self.local = config;
        self
    }

    /// Picks the store from the environment (`LIFT_TABLE_NAME`) if none was given.
    #[cfg(feature = "lambda")]
    pub(crate) async fn store_from_env(&mut self, local: bool) -> Result<(), crate::Error> {
        #[cfg(feature = "dynamodb")]
        if self.store.is_none() {
            if let Some(store) = crate::store::dynamodb::from_env(local).await? {
                self.store = Some(Arc::new(store));
            }
        }
        let _ = local;
        Ok(())
    }

    /// The service, with Management API clients built by `connect` for each endpoint.
    pub(crate) fn build(
        self,
        endpoint: Endpoint,
        connect: impl Fn(&str) -> Arc<dyn ManagementApi> + Send + Sync + 'static,
    ) -> Service {
        let endpoint = match self.management_endpoint {
            Some(url) => Endpoint::Fixed(url),
            None => endpoint,
        };
        let store = self.store.unwrap_or_else(|| Arc::new(MemoryStore::new()));
        Service::new(
            self.router,
            self.middleware,
            store,
            self.connection_ttl,
            self.broadcast,
            Clients::new(Box::new(connect)),
            endpoint,
        )
    }

    /// The service this app runs, as Lambda would run it: its Management API clients call
    /// `https://{domainName}/{stage}` from each event (or the
    /// [`management_endpoint`](Self::management_endpoint)) with the
    /// [`management_config`](Self::management_config), or fixed local credentials when none was
    /// given. Use it to feed events to the app yourself, as tests do.
    #[cfg(feature = "lambda")]
    pub fn service(mut self) -> Service {
        let config = self.sdk_config.take().unwrap_or_else(local_sdk_config);
        self.build(Endpoint::FromEvent { scheme: "https" }, move |endpoint| {
            Arc::new(crate::outbound::SdkManagement::new(&config, endpoint))
        })
    }

    /// The service as [`run`](Self::run) gives it to `lambda_runtime` (AWS configuration from the
    /// environment, `LIFT_TABLE_NAME`, `LIFT_MANAGEMENT_ENDPOINT`): a `tower::Service` of
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
    pub async fn lambda_service(self) -> Result<Service, crate::Error> {
        crate::lambda::service(self).await
    }

    /// Runs the app: on the Lambda runtime when `AWS_LAMBDA_RUNTIME_API` is set, else on the
    /// local emulator (at `LIFT_LOCAL_ADDR`, default `127.0.0.1:3001`) until Ctrl-C.
    ///
    /// It installs a log subscriber unless the program has one (see
    /// [`init_logging`](crate::observe::init_logging)): JSON in Lambda, readable locally.
    ///
    /// Started as `your-app template` or `your-app asyncapi`, it prints the app's deployment
    /// template ([`template`](Self::template)) or AsyncAPI document ([`asyncapi`](Self::asyncapi))
    /// as JSON on standard output instead, and returns. `template` takes options:
    /// `--stage NAME`, `--x86_64`, `--memory MB`, `--timeout SECONDS`, `--env KEY=VALUE`
    /// (repeatable), `--code-uri DIR`.
    #[cfg(feature = "lambda")]
    pub async fn run(self) -> Result<(), crate::Error> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        match args.first().map(String::as_str) {
            Some("template") => {
                let template = crate::infra::template_options(self.template(), &args[1..])?;
                return print_json(&template.to_json());
            }
            Some("asyncapi") => return print_json(&self.asyncapi()),
            _ => {}
        }
        let lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
        crate::observe::init_logging(lambda);
        if lambda {
            return crate::lambda::run(self).await;
        }
        #[cfg(feature = "local")]
        {
            crate::local::run(self).await
        }
        #[cfg(not(feature = "local"))]
        {
            Err("AWS_LAMBDA_RUNTIME_API is not set and the `local` feature is off: nothing to run on".into())
        }
    }
}

impl App {
    /// The deployment template of this app (see [`infra`](crate::infra)), named after the
    /// running program, with its code from `target/lambda/<program>` (where
    /// `cargo lambda build` puts it) and the emulator's route selection expression.
    /// `your-app template` prints it.
    pub fn template(&self) -> crate::infra::Template {
        let program = program_name();
        crate::infra::Template::new(&self.router)
            .name(program.clone())
            .code_uri(format!("target/lambda/{program}"))
            .route_selection(self.route_selection())
    }

    /// The AsyncAPI document of this app's messages (see [`infra::asyncapi`](crate::infra::asyncapi)).
    /// `your-app asyncapi` prints it.
    pub fn asyncapi(&self) -> serde_json::Value {
        crate::infra::asyncapi(&self.router, &program_name(), &self.route_selection())
    }

    fn route_selection(&self) -> String {
        #[cfg(feature = "local")]
        {
            self.local.route_selection.clone()
        }
        #[cfg(not(feature = "local"))]
        {
            "$request.body.action".to_owned()
        }
    }
}

/// The running program's file name, for names in generated documents.
fn program_name() -> String {
    std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|path| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "lift-app".to_owned())
}

/// Writes a generated document to standard output (the program's output when run as
/// `your-app template`, not a log line).
fn print_json(value: &serde_json::Value) -> Result<(), crate::Error> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("router", &self.router)
            .field("management_endpoint", &self.management_endpoint)
            .finish_non_exhaustive()
    }
}

/// Credentials and region for talking to the local emulator (which does not check signatures).
#[cfg(feature = "lambda")]
pub(crate) fn local_sdk_config() -> aws_sdk_apigatewaymanagement::Config {
    use aws_sdk_apigatewaymanagement::config::{BehaviorVersion, Credentials, Region};
    aws_sdk_apigatewaymanagement::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "lift-local"))
        .build()
}
