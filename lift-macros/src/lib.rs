//! Attribute macros of [Lift for Rust](https://docs.rs/lift-runtime): compile-time routing for
//! API Gateway WebSocket APIs on AWS Lambda.
//!
//! Depend on `lift-runtime`, which re-exports these macros; the generated code reaches the
//! runtime through `::lift_runtime::__private`. Each macro's documentation (with examples) is
//! on its re-export in `lift-runtime`.

use proc_macro::TokenStream;

mod app;
mod args;
mod errors;
mod exports;
mod handler;

use handler::HandlerKind;

/// Collects the handlers of an inline module into a routing table and generates
/// `pub fn router() -> lift_runtime::Router` inside the module.
///
/// The table is a `match` on the route key, built at compile time: a duplicate route key, or a
/// second `$connect`, `$disconnect` or `$default` handler, is a compile error pointing at the
/// duplicate. Options: `crate = "path"` when `lift-runtime` is renamed.
#[proc_macro_attribute]
pub fn ws_app(args: TokenStream, item: TokenStream) -> TokenStream {
    app::expand(args.into(), item.into()).into()
}

/// Handles the messages whose route key is the given string: `#[ws_route("sendMessage")]`,
/// or a two-way route `#[ws_route("whoami", reply)]` whose returned value is the response.
#[proc_macro_attribute]
pub fn ws_route(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::attribute(HandlerKind::Route, args.into(), item.into()).into()
}

/// Handles `$connect`: an `Err` refuses the WebSocket handshake with its status, and the
/// connection is stored only after this handler succeeds.
#[proc_macro_attribute]
pub fn ws_connect(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::attribute(HandlerKind::Connect, args.into(), item.into()).into()
}

/// Handles `$disconnect`; the connection is removed from the store afterwards.
#[proc_macro_attribute]
pub fn ws_disconnect(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::attribute(HandlerKind::Disconnect, args.into(), item.into()).into()
}

/// Handles `$default`: messages that match no route, including bodies that are not JSON.
#[proc_macro_attribute]
pub fn ws_default(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::attribute(HandlerKind::Default, args.into(), item.into()).into()
}
