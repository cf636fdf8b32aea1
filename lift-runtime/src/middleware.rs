//! Middleware: functions that run around every handler, in onion order.
//!
//! ```
//! use lift_runtime::prelude::*;
//!
//! /// Logs how long each event took.
//! #[ws_middleware]
//! async fn timing(ctx: &mut WsContext, next: Next<'_>) -> WsResult {
//!     let started = std::time::Instant::now();
//!     let result = next.run(ctx).await;
//!     let _elapsed = started.elapsed();
//!     result
//! }
//!
//! #[ws_app]
//! mod app {
//!     use lift_runtime::prelude::*;
//!
//!     #[ws_route("ping", reply)]
//!     async fn ping() -> WsResult<Reply> {
//!         Ok(Reply::text("pong"))
//!     }
//! }
//!
//! let app = lift_runtime::App::new(app::router()).middleware(timing);
//! # let _ = app;
//! ```
//!
//! A middleware can apply to some events only: check the route first.
//!
//! ```
//! use lift_runtime::prelude::*;
//!
//! /// Only on `$connect`: every other event passes straight through.
//! #[ws_middleware]
//! async fn connect_only(ctx: &mut WsContext, next: Next<'_>) -> WsResult {
//!     if ctx.route_key() != "$connect" {
//!         return next.run(ctx).await;
//!     }
//!     if ctx.header("origin") != Some("https://chat.example.com") {
//!         return Err(WsError::forbidden("unknown origin"));
//!     }
//!     next.run(ctx).await
//! }
//!
//! /// Only on the routes that write.
//! #[ws_middleware]
//! async fn writers_only(ctx: &mut WsContext, next: Next<'_>) -> WsResult {
//!     if matches!(ctx.route_key(), "sendMessage" | "join") && ctx.identity().await?.is_none() {
//!         return Err(WsError::unauthorized("sign in to write"));
//!     }
//!     next.run(ctx).await
//! }
//! ```
//!
//! Data for the handler goes into [`WsContext::extensions_mut`].
//!
//! Registered with [`App::middleware`](crate::App::middleware); the first registered is the
//! outermost: `first → second → handler → second → first`. Middleware runs on every event,
//! `$connect` and `$disconnect` included; one that returns `Err` without calling
//! [`Next::run`] stops the event there (on `$connect` the handshake is refused and nothing is
//! stored). The handler's reply is in [`WsContext::pending_reply`] after `next.run(ctx)`
//! returns, where middleware can read or replace it.

use std::future::Future;
use std::sync::Arc;

use crate::context::WsContext;
use crate::error::{WsError, WsResult};
use crate::router::{BoxFuture, Router};

/// The rest of the middleware chain and, at its end, the handler.
pub struct Next<'a> {
    rest: &'a [Arc<dyn ErasedMiddleware>],
    router: &'a Router,
    key: &'a str,
}

impl<'a> Next<'a> {
    pub(crate) fn new(
        chain: &'a [Arc<dyn ErasedMiddleware>],
        router: &'a Router,
        key: &'a str,
    ) -> Self {
        Next {
            rest: chain,
            router,
            key,
        }
    }

    /// Runs the rest of the chain and the handler. The handler's reply, if any, is then in
    /// [`WsContext::pending_reply`]; its error is returned.
    pub async fn run(self, ctx: &mut WsContext) -> WsResult {
        match self.rest.split_first() {
            Some((first, rest)) => {
                let next = Next { rest, ..self };
                first.call(ctx, next).await
            }
            None => {
                if self.router.route(self.key).is_none() {
                    return match self.key {
                        // No handler for the special routes: the runtime's own management
                        // applies.
                        "$connect" | "$disconnect" => Ok(()),
                        _ => Err(WsError::unknown_route(ctx.route_key())),
                    };
                }
                let reply = match self.router.dispatch(self.key, ctx) {
                    Some(handler) => handler.await?,
                    None => None,
                };
                ctx.set_pending_reply(reply);
                Ok(())
            }
        }
    }
}

impl std::fmt::Debug for Next<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Next")
            .field("remaining_middleware", &self.rest.len())
            .field("route_key", &self.key)
            .finish()
    }
}

/// A middleware function: `async fn name(ctx: &mut WsContext, next: Next<'_>) -> WsResult`.
///
/// Implemented for every such `async fn`; `#[ws_middleware]` checks the signature at compile
/// time with spanned errors.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a middleware",
    label = "not a middleware",
    note = "a middleware is `async fn name(ctx: &mut WsContext, next: Next<'_>) -> WsResult` and its future must be `Send`"
)]
pub trait Middleware<'a>: Send + Sync + 'static {
    /// The future the middleware returns.
    type Future: Future<Output = WsResult> + Send + 'a;
    /// Calls the middleware.
    fn call(&self, ctx: &'a mut WsContext, next: Next<'a>) -> Self::Future;
}

impl<'a, F, Fut> Middleware<'a> for F
where
    F: Fn(&'a mut WsContext, Next<'a>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = WsResult> + Send + 'a,
{
    type Future = Fut;

    fn call(&self, ctx: &'a mut WsContext, next: Next<'a>) -> Fut {
        self(ctx, next)
    }
}

/// A middleware behind a pointer.
pub(crate) trait ErasedMiddleware: Send + Sync {
    fn call<'a>(&'a self, ctx: &'a mut WsContext, next: Next<'a>) -> BoxFuture<'a, WsResult>;
}

struct Erased<M>(M);

impl<M> ErasedMiddleware for Erased<M>
where
    M: for<'a> Middleware<'a>,
{
    fn call<'a>(&'a self, ctx: &'a mut WsContext, next: Next<'a>) -> BoxFuture<'a, WsResult> {
        Box::pin(Middleware::call(&self.0, ctx, next))
    }
}

pub(crate) fn erase<M>(middleware: M) -> Arc<dyn ErasedMiddleware>
where
    M: for<'a> Middleware<'a>,
{
    Arc::new(Erased(middleware))
}

/// Compile-time check emitted by `#[ws_middleware]` at the function's name.
#[doc(hidden)]
pub fn assert_middleware<M>(_: &M)
where
    M: for<'a> Middleware<'a>,
{
}

/// The key of the handler that serves `route_key`: the route itself, or `$default`.
pub(crate) fn handler_key<'k>(router: &Router, route_key: &'k str) -> &'k str {
    match route_key {
        "$connect" | "$disconnect" => route_key,
        key if router.is_message_route(key) => key,
        _ => "$default",
    }
}
