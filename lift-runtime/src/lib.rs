//! # Lift for Rust
//!
//! API Gateway **WebSocket** APIs on **AWS Lambda**, in Rust. Annotate async functions; the
//! macros build the routing table at compile time; this crate runs it on `lambda_runtime`,
//! answers through the API Gateway Management API, keeps connections in a store, and — outside
//! Lambda — runs the very same app on a local emulator of API Gateway's WebSocket API.
//!
//! ```no_run
//! use lift_runtime::prelude::*;
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Say { text: String }
//!
//! #[ws_app]
//! mod app {
//!     use super::*;
//!
//!     #[ws_connect]
//!     async fn connect(ctx: &mut WsContext) -> WsResult {
//!         let name = ctx.query("name").ok_or_else(|| WsError::unauthorized("add ?name=..."))?;
//!         let name = name.to_owned();
//!         ctx.set_user(name);
//!         ctx.join("everyone").await?; // joined as soon as the connection is stored
//!         Ok(())
//!     }
//!
//!     #[ws_route("say")]
//!     async fn say(ctx: &WsContext, Json(say): Json<Say>) -> WsResult {
//!         ctx.room("everyone").broadcast(&say.text).await?;
//!         Ok(())
//!     }
//!
//!     #[ws_route("whoami", reply)]
//!     async fn whoami(ctx: &WsContext) -> WsResult<Reply> {
//!         Ok(Reply::text(ctx.connection_id()))
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), lift_runtime::Error> {
//!     lift_runtime::App::new(app::router()).run().await
//! }
//! ```
//!
//! ## Features
//! - `lambda` (default): the Management API client (`aws-sdk-apigatewaymanagement`) and the
//!   Lambda runtime; [`App::run`].
//! - `local` (default): the local emulator of API Gateway's WebSocket API ([`local`]).
//! - `dynamodb` (default): the DynamoDB connection store (`store::DynamoDbStore`).
//! - `jwt` (default): JWT authentication on `$connect` (`auth::JwtAuth`).
//! - `sqs` (default): fan-out of big rooms through SQS (`fanout::SqsQueue`); the in-process
//!   queue of the emulator needs no feature ([`fanout`]).
//! - `testing`: test helpers, the emulator in-process with real WebSocket clients
//!   (`testing::TestApp`) and Lambda events (`testing::Event`).
//! - `schemas`: JSON Schemas of `Json<T>` messages (`T: schemars::JsonSchema`) in the AsyncAPI
//!   document ([`deploy::asyncapi`]).
//!
//! Without features the crate has the macros and the types handlers use, which is enough to
//! compile and unit-test handlers.
#![deny(missing_docs)]
// Without `lambda` nothing runs the service; its parts are still compiled and documented.
#![cfg_attr(not(feature = "lambda"), allow(dead_code))]

extern crate self as lift_runtime;

mod app;
#[cfg(feature = "jwt")]
pub mod auth;
#[cfg(all(feature = "local", any(feature = "dynamodb", feature = "sqs")))]
mod aws_env;
mod connect;
mod context;
pub mod deploy;
mod error;
#[cfg(feature = "local")]
mod events;
mod extract;
pub mod fanout;
mod ids;
mod inbound;
#[cfg(feature = "lambda")]
pub mod lambda;
#[cfg(feature = "local")]
pub mod local;
pub mod middleware;
pub mod observe;
pub mod outbound;
mod retry;
mod route_key;
mod router;
mod schema;
mod service;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use app::App;
pub use context::WsContext;
pub use error::{Error, SendError, StoreError, WsError, WsResult};
pub use extract::{FromMessage, IntoReply, Json, Reply};
pub use lift_macros::{
    ws_app, ws_connect, ws_default, ws_disconnect, ws_middleware, ws_route, ws_routes,
};
pub use middleware::{Middleware, Next};
pub use outbound::{BroadcastConfig, BroadcastReport, Outbound, Room, SendTotals, User};
pub use route_key::{RouteKey, RouteKind};
pub use router::{HandlerResult, Resolved, Route, RouteInfo, Router};
pub use service::{Invocation, LambdaResponse, Service};

/// The names a handler module needs: `use lift_runtime::prelude::*;`.
pub mod prelude {
    pub use crate::{
        ws_app, ws_connect, ws_default, ws_disconnect, ws_middleware, ws_route, ws_routes, Json,
        Next, Reply, RouteKey, WsContext, WsError, WsResult,
    };
}

/// What the generated code uses. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::context::WsContext;
    pub use crate::extract::FromMessage;
    pub use crate::middleware::Next;
    pub use crate::router::{
        key_index, BoxFuture, HandlerOutput, HandlerResult, NotRouted, Probe, Route, RouteEntry,
        RouteInfo, RouteKind, Router,
    };
    pub use crate::schema::{NoJsonSchema, SchemaOf, ViaJsonSchema};
    pub use serde_json::Value;
}

/// The README's examples, compiled as doctests so they cannot rot (with the `testing` feature,
/// which its testing example uses; the workspace's tests turn it on).
#[doc = include_str!("../../README.md")]
#[cfg(all(doctest, feature = "testing"))]
pub struct ReadmeDoctests;

/// The migration guide's examples, compiled as doctests.
#[doc = include_str!("../../docs/MIGRATING.md")]
#[cfg(all(doctest, feature = "testing"))]
pub struct MigratingDoctests;
