//! Attribute macros of [Lift for Rust](https://docs.rs/lift-runtime): compile-time routing for
//! API Gateway WebSocket APIs on AWS Lambda.
//!
//! Depend on `lift-runtime`, which re-exports these macros; the generated code reaches the
//! runtime through `::lift_runtime::__private`. Each macro's documentation (with examples) is
//! on its re-export in `lift-runtime`.

#![deny(missing_docs)]

use proc_macro::TokenStream;

mod app;
mod args;
mod debug;
mod doc;
mod errors;
mod exports;
mod handler;
mod list;
mod middleware;
mod output;
mod push;
#[cfg(test)]
mod tests;
mod unrouted;

use handler::HandlerKind;

/// Turns an inline module into a WebSocket app: collects its handlers and generates
/// `pub fn router() -> lift_runtime::Router` inside the module.
///
/// # Grammar
///
/// ```text
/// #[ws_app]                         on an inline module: `mod name { ... }`
/// #[ws_app(crate = "path")]         when lift-runtime is renamed in Cargo.toml
/// ```
///
/// # Semantics
///
/// The attribute reads every function in the module marked `#[ws_route("key")]`,
/// `#[ws_connect]`, `#[ws_disconnect]` or `#[ws_default]`, expands each (see those macros) and
/// adds one item to the module:
///
/// - `pub fn router() -> Router`: the routing table. Dispatch is a `match` on the route key with
///   one arm per handler, built at compile time; the table also lists each route's key and
///   whether it is a two-way (`reply`) route, which the local emulator uses for route
///   selection.
///
/// `router()` and the module are documented with the routing table, for `cargo doc` and the
/// app's client developers: per route its key, its handler (linked when `pub`), one-way or
/// replies, the message it reads (`Json<T>`'s `T`, linked; text; bytes), what it answers, and
/// the first paragraph of the handler's own doc comment, which stays on the function.
///
/// Everything else in the module (helpers, types, `use`s) is left as written. A duplicate route
/// key, or a second `$connect`, `$disconnect` or `$default` handler, is one compile error on the
/// duplicate, naming the first handler and its line.
///
/// Nothing marked as a handler is left out of the table without a word:
///
/// - a handler under `#[cfg(...)]` is routed under the same `cfg`: present when compiled in,
///   absent when compiled out (two handlers may share a key under exclusive `cfg`s);
/// - an alias imported inside the module (`use lift_runtime::ws_route as route;`) is
///   recognised, and its handlers routed;
/// - a handler in a module nested inside the app module is a compile error at its attribute
///   (`#[ws_app]` routes the functions written directly in its module: move it up);
/// - a function made a handler by an attribute `#[ws_app]` cannot recognise (an alias imported
///   outside the module) is a compile error at its name: every plain function of the module
///   is checked at compile time for a handler's companion.
///
/// # Example
///
/// ```
/// use lift_runtime::prelude::*;
///
/// #[ws_app]
/// mod app {
///     use lift_runtime::prelude::*;
///
///     #[ws_connect]
///     async fn connect(ctx: &mut WsContext) -> WsResult {
///         ctx.set_user("anonymous");
///         Ok(())
///     }
///
///     #[ws_route("ping", reply)]
///     async fn ping() -> WsResult<Reply> {
///         Ok(Reply::text("pong"))
///     }
/// }
///
/// // Its `Debug` lists the route keys, two-way routes marked.
/// assert_eq!(format!("{:?}", app::router()), r#"Router ["$connect", "ping (reply)"]"#);
/// ```
///
/// With the runtime re-exported under another name (here the real name, spelled out):
///
/// ```
/// #[lift_runtime::ws_app(crate = "lift_runtime")]
/// mod app {
///     #[lift_runtime::ws_default]
///     async fn fallback() -> lift_runtime::WsResult {
///         Ok(())
///     }
/// }
/// # let _ = app::router();
/// ```
///
/// # Without the macro
///
/// The handlers expand as [`macro@ws_route`] shows, and `router()` is, in outline:
///
/// ```text
/// pub fn router() -> Router {
///     // Each route's key, kind, schemas and the function that calls its handler: an event's
///     // route is found once, and called through what was found.
///     const ROUTES: &[RouteInfo] = &[RouteInfo::of::<connect>(), RouteInfo::of::<ping>()];
///     Router::new(ROUTES)
/// }
/// ```
///
/// The names live in the hidden, unstable `lift_runtime::__private` module; the stable way to
/// build a router without `#[ws_app]` is [`ws_routes!`](macro@ws_routes).
///
/// # Mistakes it catches
///
/// Two handlers for one route key:
///
/// ```compile_fail
/// use lift_runtime::prelude::*;
///
/// #[ws_app]
/// mod app {
///     use lift_runtime::prelude::*;
///
///     #[ws_route("join")]
///     async fn join() -> WsResult { Ok(()) }
///
///     #[ws_route("join")] // error: route key `join` is already handled by `join` (line 7)
///     async fn join_again() -> WsResult { Ok(()) }
/// }
/// # fn main() {}
/// ```
///
/// A handler in a module nested inside the app module (it would never be routed):
///
/// ```compile_fail
/// use lift_runtime::prelude::*;
///
/// #[ws_app]
/// mod app {
///     use lift_runtime::prelude::*;
///
///     #[ws_route("a")]
///     async fn a() -> WsResult { Ok(()) }
///
///     mod more {
///         use lift_runtime::prelude::*;
///
///         #[ws_route("b")] // error: `b` is in `mod more`, inside the `#[ws_app]` module, where it would never be routed
///         pub async fn b() -> WsResult { Ok(()) }
///     }
/// }
/// # fn main() {}
/// ```
///
/// (Each `compile_fail` example here is also a `ui-tests` case, whose `.stderr` holds the
/// whole message.)
#[proc_macro_attribute]
pub fn ws_app(args: TokenStream, item: TokenStream) -> TokenStream {
    app::expand(args.into(), item.into()).into()
}

/// Handles the messages whose route key is the given string.
///
/// # Grammar
///
/// ```text
/// #[ws_route("key")]                one-way route
/// #[ws_route("key", reply)]         two-way route: the returned value is the response
/// #[ws_route("key", crate = "path")]
/// ```
///
/// The key is what API Gateway's route selection expression yields (by default the body's
/// `action` field: `{"action":"key",...}`). It must not be empty or start with `$`; the special
/// routes have their own attributes.
///
/// # The handler
///
/// An `async fn` whose parameters are, in order:
///
/// 1. optionally the context, `&WsContext` or `&mut WsContext`;
/// 2. any number of extractors: `Json<T>` (the body deserialised as JSON; `T: Deserialize`),
///    `String` (the raw body) or `Vec<u8>` (the message's bytes).
///
/// It returns `WsResult<T>` (`Result<T, WsError>`) where `T` is `()`, `Reply`, `Json<U>`
/// (`U: Serialize`) or an `Option` of those.
///
/// # Semantics
///
/// The function is emitted unchanged, so it can be called directly (in unit tests, say). Beside
/// it the attribute generates a hidden companion item of the same name in the type namespace,
/// implementing `lift_runtime::__private::Route`: it extracts the arguments from the event,
/// calls the function and converts its result. `#[ws_app]` uses it in `router()`.
///
/// At run time: if an extractor fails (a body that is not the JSON `T` expects) the caller gets
/// an `invalid_body` error frame and the function is not called. `Ok(value)` on a `reply` route
/// is the route's response; on a one-way route it is posted to the caller through the
/// Management API. `Err(e)` becomes the error frame `{"type":"error","code":..,"message":..}`.
///
/// A handler outside `#[ws_app]` is part of an app only when listed in
/// [`ws_routes!`](macro@ws_routes); a handler listed nowhere is never routed to (it compiles, and
/// stays an ordinary function).
///
/// # Examples
///
/// ```
/// use lift_runtime::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Deserialize)]
/// struct Add { a: i64, b: i64 }
///
/// #[derive(Serialize)]
/// struct Sum { sum: i64 }
///
/// // A two-way route: {"action":"add","a":1,"b":2} gets {"sum":3} back.
/// #[ws_route("add", reply)]
/// async fn add(Json(add): Json<Add>) -> WsResult<Json<Sum>> {
///     Ok(Json(Sum { sum: add.a + add.b }))
/// }
///
/// // A one-way route using the context to reach another connection.
/// #[ws_route("poke")]
/// async fn poke(ctx: &WsContext, target: String) -> WsResult {
///     ctx.send(&target, &"poke").await?;
///     Ok(())
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// // The function is still the function you wrote.
/// let Json(sum) = add(Json(Add { a: 1, b: 2 })).await.unwrap();
/// assert_eq!(sum.sum, 3);
/// # });
/// ```
///
/// # Without the macro
///
/// `#[ws_route("add", reply)] async fn add(Json(add): Json<Add>) -> WsResult<Json<Sum>>`
/// expands to the function as written plus (names under `lift_runtime::__private`, which is
/// not a stable API):
///
/// ```text
/// #[doc(hidden)]
/// struct add {}                                   // type namespace only: `add(...)` still calls the fn
/// impl Route for add {
///     const KEY: &'static str = "add";
///     const KIND: RouteKind = RouteKind::Message;
///     const REPLY: bool = true;
///     fn call(ctx: &mut WsContext) -> BoxFuture<'_, HandlerResult> {
///         Box::pin(async move {
///             let arg0 = <Json<Add> as FromMessage>::from_message(&*ctx)?;   // bad body => error frame
///             let output = add(arg0).await;
///             HandlerOutput::into_outcome(output)                          // reply body, or the error
///         })
///     }
/// }
/// ```
///
/// Print the real expansion with `cargo expand`, or with `LIFT_MACRO_DEBUG=add cargo build` and
/// `lift-runtime`'s `macro-debug` feature.
///
/// # Mistakes it catches
///
/// A handler that is not `async`:
///
/// ```compile_fail
/// use lift_runtime::prelude::*;
///
/// #[ws_route("ping")]
/// fn ping() -> WsResult { Ok(()) } // error: a `#[ws_route]` function must be an `async fn`
/// # fn main() {}
/// ```
///
/// A reserved key:
///
/// ```compile_fail
/// use lift_runtime::prelude::*;
///
/// #[ws_route("$connect")] // error: use `#[ws_connect]` for `$connect`
/// async fn connect() -> WsResult { Ok(()) }
/// # fn main() {}
/// ```
///
/// A parameter that is not an extractor:
///
/// ```compile_fail,E0277
/// use lift_runtime::prelude::*;
///
/// #[ws_route("count")]
/// async fn count(n: u32) -> WsResult { Ok(()) } // error: `u32` cannot be taken by a handler
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn ws_route(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::attribute(HandlerKind::Route, args.into(), item.into()).into()
}

/// Handles `$connect`, the WebSocket handshake.
///
/// # Grammar
///
/// ```text
/// #[ws_connect]
/// #[ws_connect(crate = "path")]
/// ```
///
/// # Semantics
///
/// As [`macro@ws_route`], for the `$connect` route. The handler usually takes
/// `&mut WsContext` to record who connected (`set_user`, `set_metadata`). Only after it returns
/// `Ok` is the connection saved in the store; an `Err` refuses the handshake with the error's
/// status (400, 401, 403...) and nothing is stored. API Gateway sends no frames on `$connect`,
/// so a returned value is ignored. Without a `$connect` handler every connection is accepted
/// and stored.
///
/// # Example
///
/// ```
/// use lift_runtime::prelude::*;
///
/// #[ws_connect]
/// async fn connect(ctx: &mut WsContext) -> WsResult {
///     let name = ctx
///         .query("name")
///         .ok_or_else(|| WsError::unauthorized("connect with ?name=..."))?
///         .to_owned();
///     ctx.set_user(name);
///     Ok(())
/// }
/// ```
///
/// `$connect` has no route key and no response frame:
///
/// ```compile_fail
/// use lift_runtime::prelude::*;
///
/// #[ws_connect(reply)] // error: `reply` has no meaning on `#[ws_connect]`
/// async fn connect(ctx: &mut WsContext) -> WsResult { Ok(()) }
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn ws_connect(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::attribute(HandlerKind::Connect, args.into(), item.into()).into()
}

/// Handles `$disconnect`.
///
/// # Grammar
///
/// ```text
/// #[ws_disconnect]
/// #[ws_disconnect(crate = "path")]
/// ```
///
/// # Semantics
///
/// As [`macro@ws_route`], for the `$disconnect` route. The connection can no longer receive
/// messages. After the handler runs (whatever it returns) the connection is deleted from the
/// store; an `Err` is only logged. The close code and reason are in
/// `ctx.event().request_context.disconnect_status_code` / `disconnect_reason`.
///
/// # Example
///
/// ```
/// use lift_runtime::prelude::*;
///
/// #[ws_disconnect]
/// async fn disconnect(ctx: &WsContext) -> WsResult {
///     let rc = &ctx.event().request_context;
///     if rc.disconnect_status_code == Some(1006) {
///         // The client vanished without a close frame.
///     }
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn ws_disconnect(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::attribute(HandlerKind::Disconnect, args.into(), item.into()).into()
}

/// Handles `$default`: messages that match no route, including bodies that are not JSON.
///
/// # Grammar
///
/// ```text
/// #[ws_default]
/// #[ws_default(reply)]              the returned value is the response
/// #[ws_default(crate = "path")]
/// ```
///
/// # Semantics
///
/// As [`macro@ws_route`], for the `$default` route. Without a `$default` handler, unmatched
/// messages are answered with an `unknown_route` error frame.
///
/// # Example
///
/// ```
/// use lift_runtime::prelude::*;
///
/// #[ws_default(reply)]
/// async fn echo(body: String) -> WsResult<Reply> {
///     Ok(Reply::text(body))
/// }
/// ```
///
/// `$default` takes no key:
///
/// ```compile_fail
/// use lift_runtime::prelude::*;
///
/// #[ws_default("fallback")] // error: `#[ws_default]` takes no route key
/// async fn fallback() -> WsResult { Ok(()) }
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn ws_default(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::attribute(HandlerKind::Default, args.into(), item.into()).into()
}

#[doc = include_str!("ws_push.md")]
#[proc_macro_attribute]
pub fn ws_push(args: TokenStream, item: TokenStream) -> TokenStream {
    push::standalone(args.into(), item.into()).into()
}

/// Builds a routing table from handlers listed by path: the way to assemble an app whose
/// handlers live in several files.
///
/// # Grammar
///
/// ```text
/// ws_routes![path, path, ...]
/// ws_routes![path, path, ...; push: Frame, Frame, ...]
/// ws_routes![crate = "path"; path, path, ...]
/// ```
///
/// # Semantics
///
/// Each path names a function marked with `#[ws_route("key")]`, `#[ws_connect]`,
/// `#[ws_disconnect]` or `#[ws_default]` (outside `#[ws_app]`). The macro evaluates to a
/// `lift_runtime::Router`. A path that is not such a handler is a compile error at that path;
/// two handlers for one route key are a compile error (a failed constant evaluation) at the
/// later one. A handler defined outside `#[ws_app]` and listed nowhere is simply not part of
/// any app: nothing routes to it. After `push:`, the frames the app pushes, each declared with
/// [`macro@ws_push`] (a type that is not is an error at its path; two with one `"type"`, an
/// error at the second).
///
/// # Example
///
/// ```
/// use lift_runtime::prelude::*;
///
/// mod rooms {
///     use lift_runtime::prelude::*;
///
///     #[ws_route("join")]
///     pub async fn join(ctx: &WsContext, room: String) -> WsResult {
///         let _ = (ctx, room);
///         Ok(())
///     }
/// }
///
/// mod system {
///     use lift_runtime::prelude::*;
///
///     #[ws_connect]
///     pub async fn connect(ctx: &mut WsContext) -> WsResult {
///         ctx.set_user("guest");
///         Ok(())
///     }
/// }
///
/// let router = ws_routes![system::connect, rooms::join];
/// assert_eq!(format!("{router:?}"), r#"Router ["$connect", "join"]"#);
/// ```
///
/// Listing something that is not a handler:
///
/// ```compile_fail,E0277
/// use lift_runtime::prelude::*;
///
/// struct NotAHandler;
///
/// let router = ws_routes![NotAHandler]; // error: `NotAHandler` is not a handler
/// ```
#[proc_macro]
pub fn ws_routes(input: TokenStream) -> TokenStream {
    list::expand(input.into()).into()
}

/// Checks a middleware's signature at compile time.
///
/// # Grammar
///
/// ```text
/// #[ws_middleware]
/// #[ws_middleware(crate = "path")]
/// ```
///
/// on `async fn name(ctx: &mut WsContext, next: Next<'_>) -> WsResult<Option<Reply>>`.
///
/// # Semantics
///
/// The function is emitted unchanged, plus a hidden compile-time check (at the function's name)
/// that it implements `lift_runtime::Middleware`: that is what `App::middleware(name)` needs.
/// Any function of that shape can be registered without the attribute; the attribute turns the
/// mistakes below into errors at your own tokens instead of a trait error at the `App`.
///
/// At run time the middleware gets the context and the rest of the chain; `next.run(ctx).await`
/// runs it (and the handler) and returns what the handler returned: its reply (`None` when it
/// has none) or its error. The middleware returns that on, as it is or rewritten. Returning
/// `Err` without calling `next.run` stops the event: the client gets the error frame (on
/// `$connect`, the handshake is refused).
///
/// # Example
///
/// ```
/// use lift_runtime::prelude::*;
///
/// /// Refuses messages from connections that did not say who they are.
/// #[ws_middleware]
/// async fn require_user(ctx: &mut WsContext, next: Next<'_>) -> WsResult<Option<Reply>> {
///     if *ctx.route() != RouteKey::Connect && ctx.connection().await?.and_then(|c| c.user.clone()).is_none() {
///         return Err(WsError::unauthorized("connect with a user first"));
///     }
///     next.run(ctx).await
/// }
/// ```
///
/// # Mistakes it catches
///
/// A middleware that forgets the rest of the chain:
///
/// ```compile_fail
/// use lift_runtime::prelude::*;
///
/// #[ws_middleware]
/// async fn log(ctx: &mut WsContext) -> WsResult<Option<Reply>> { // error: a middleware takes `next: Next<'_>`
///     Ok(None)
/// }
/// # fn main() {}
/// ```
///
/// Returning something else than what `next.run` returns:
///
/// ```compile_fail
/// use lift_runtime::prelude::*;
///
/// #[ws_middleware]
/// async fn log(ctx: &mut WsContext, next: Next<'_>) -> WsResult<Reply> { // error: returns `WsResult<Option<Reply>>`
///     next.run(ctx).await?;
///     Ok(Reply::text("hi"))
/// }
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn ws_middleware(args: TokenStream, item: TokenStream) -> TokenStream {
    middleware::expand(args.into(), item.into()).into()
}
