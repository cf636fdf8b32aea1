//! Middleware: [`Middleware`] (what it is and how it runs is documented there) and [`Next`],
//! the rest of the chain.

use std::future::Future;
use std::sync::Arc;

use crate::context::WsContext;
use crate::error::WsError;
use crate::extract::Reply;
use crate::route_key::RouteKey;
use crate::router::{BoxFuture, HandlerResult, RouteInfo};

/// The rest of the middleware chain and, at its end, the handler.
pub struct Next<'a> {
    rest: &'a [Arc<dyn ErasedMiddleware>],
    handler: Option<&'static RouteInfo>,
}

impl<'a> Next<'a> {
    /// The chain, ending in `handler` (the event's route, resolved once by the service).
    pub(crate) fn new(
        chain: &'a [Arc<dyn ErasedMiddleware>],
        handler: Option<&'static RouteInfo>,
    ) -> Self {
        Next {
            rest: chain,
            handler,
        }
    }

    /// Runs the rest of the chain and the handler; returns the handler's reply (`None` when it
    /// returned none) or its error.
    pub async fn run(self, ctx: &mut WsContext) -> Result<Option<Reply>, WsError> {
        match self.rest.split_first() {
            Some((first, rest)) => {
                let next = Next { rest, ..self };
                first.call(ctx, next).await
            }
            None => match self.handler {
                Some(route) => (route.call)(ctx).await,
                // No handler for `$connect` / `$disconnect`: the runtime's own management applies.
                None if matches!(ctx.route(), RouteKey::Connect | RouteKey::Disconnect) => Ok(None),
                None => Err(WsError::unknown_route(ctx.route())),
            },
        }
    }
}

impl std::fmt::Debug for Next<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Next")
            .field("remaining_middleware", &self.rest.len())
            .field("handler", &self.handler.map(|route| route.key))
            .finish()
    }
}

/// Middleware: functions that run around every handler, in onion order.
///
/// ```
/// use lift_runtime::prelude::*;
///
/// /// Logs how long each event took.
/// #[ws_middleware]
/// async fn timing(ctx: &mut WsContext, next: Next<'_>) -> WsResult<Option<Reply>> {
///     let started = std::time::Instant::now();
///     let result = next.run(ctx).await;
///     let _elapsed = started.elapsed();
///     result
/// }
///
/// #[ws_app]
/// mod app {
///     use lift_runtime::prelude::*;
///
///     #[ws_route("ping", reply)]
///     async fn ping() -> WsResult<Reply> {
///         Ok(Reply::text("pong"))
///     }
/// }
///
/// let app = lift_runtime::App::new(app::router()).middleware(timing);
/// # let _ = app;
/// ```
///
/// A middleware can apply to some events only: check the route first.
///
/// ```
/// use lift_runtime::prelude::*;
/// use lift_runtime::RouteKey;
///
/// /// Only on `$connect`: every other event passes straight through.
/// #[ws_middleware]
/// async fn connect_only(ctx: &mut WsContext, next: Next<'_>) -> WsResult<Option<Reply>> {
///     if *ctx.route() != RouteKey::Connect {
///         return next.run(ctx).await;
///     }
///     if ctx.header("origin") != Some("https://chat.example.com") {
///         return Err(WsError::forbidden("unknown origin"));
///     }
///     next.run(ctx).await
/// }
///
/// /// Only on the routes that write.
/// #[ws_middleware]
/// async fn writers_only(ctx: &mut WsContext, next: Next<'_>) -> WsResult<Option<Reply>> {
///     if matches!(ctx.route().as_str(), "sendMessage" | "join") && ctx.identity().await?.is_none() {
///         return Err(WsError::unauthorized("sign in to write"));
///     }
///     next.run(ctx).await
/// }
/// ```
///
/// Data for the handler goes into [`WsContext::extensions_mut`].
///
/// Registered with [`App::middleware`](crate::App::middleware); the first registered is the
/// outermost: `first → second → handler → second → first`. Middleware runs on every event,
/// `$connect` and `$disconnect` included; one that returns `Err` without calling
/// [`Next::run`] stops the event there (on `$connect` the handshake is refused and nothing is
/// stored). [`Next::run`] returns what the handler returned — its reply, if any, or its error
/// — and the middleware returns that on, as it is or rewritten:
///
/// ```
/// use lift_runtime::prelude::*;
///
/// /// Every reply in capitals.
/// #[ws_middleware]
/// async fn shout(ctx: &mut WsContext, next: Next<'_>) -> WsResult<Option<Reply>> {
///     let reply = next.run(ctx).await?;
///     Ok(reply.map(|reply| Reply::text(reply.body().to_uppercase())))
/// }
/// ```
///
/// The trait is implemented for every `async fn` of that signature; `#[ws_middleware]` checks
/// the signature at compile time with spanned errors. A type of your own implements it too
/// (as [`observe::Metrics`](crate::observe::Metrics) does).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a middleware",
    label = "not a middleware",
    note = "a middleware is `async fn name(ctx: &mut WsContext, next: Next<'_>) -> WsResult<Option<Reply>>` and its future must be `Send`"
)]
pub trait Middleware<'a>: Send + Sync + 'static {
    /// The future the middleware returns.
    type Future: Future<Output = Result<Option<Reply>, WsError>> + Send + 'a;
    /// Calls the middleware.
    fn call(&self, ctx: &'a mut WsContext, next: Next<'a>) -> Self::Future;
}

impl<'a, F, Fut> Middleware<'a> for F
where
    F: Fn(&'a mut WsContext, Next<'a>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<Reply>, WsError>> + Send + 'a,
{
    type Future = Fut;

    fn call(&self, ctx: &'a mut WsContext, next: Next<'a>) -> Fut {
        self(ctx, next)
    }
}

/// A middleware behind a pointer.
pub(crate) trait ErasedMiddleware: Send + Sync {
    fn call<'a>(&'a self, ctx: &'a mut WsContext, next: Next<'a>) -> BoxFuture<'a, HandlerResult>;
}

struct Erased<M>(M);

impl<M> ErasedMiddleware for Erased<M>
where
    M: for<'a> Middleware<'a>,
{
    fn call<'a>(&'a self, ctx: &'a mut WsContext, next: Next<'a>) -> BoxFuture<'a, HandlerResult> {
        Box::pin(Middleware::call(&self.0, ctx, next))
    }
}

pub(crate) fn erase<M>(middleware: M) -> Arc<dyn ErasedMiddleware>
where
    M: for<'a> Middleware<'a>,
{
    Arc::new(Erased(middleware))
}
