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
//!
//! Each feature adds one part, and none needs another: any set of them builds.
//!
//! - `lambda` (default): [`App::run`] on the Lambda runtime (`lambda_runtime`), and [`Service`]
//!   as a `tower::Service` of Lambda events.
//! - `local` (default): [`App::run`] outside Lambda runs the local emulator of API Gateway's
//!   WebSocket API (what it does: [`settings::LocalSettings`]).
//! - `dynamodb` (default): the DynamoDB connection store ([`store::DynamoDbStore`]; used when
//!   [`Settings::table_name`] is set).
//! - `sqs` (default): fan-out of big rooms through SQS ([`fanout::SqsQueue`]; used when
//!   [`settings::FanoutSettings::queue_url`] is set). The in-process queue needs no feature.
//! - `jwt` (default): JWT authentication on `$connect` ([`auth::JwtAuth`]).
//! - `testing`: test helpers: the emulator in-process with real WebSocket clients
//!   (`testing::TestApp`), contexts for unit tests (`testing::TestContext`) and Lambda events
//!   (`testing::Event`). It turns on `local`.
//! - `schemas`: JSON Schemas of `Json<T>` messages (`T: schemars::JsonSchema`) in the AsyncAPI
//!   document ([`deploy::asyncapi`]).
//!
//! With `lambda` or `local`, the app answers clients through the API Gateway Management API
//! with one built-in client (hyper, each request signed with SigV4 by `aws-sigv4`). Without
//! features the crate has the macros and the types handlers use, which is enough to compile
//! and unit-test handlers.
//!
//! ## Settings
//!
//! Every setting is a field of [`Settings`], read from the environment in one place
//! ([`Settings::from_env`]); the [`settings`] module lists every variable.
#![deny(missing_docs)]
// On docs.rs (`--cfg docsrs`), each item says which features it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate self as lift_runtime;

mod app;
pub mod auth;
mod connect;
mod context;
pub mod deploy;
mod error;
mod event;
#[cfg(any(feature = "local", feature = "testing"))]
mod events;
mod extract;
pub mod fanout;
mod ids;
mod inbound;
#[cfg(feature = "lambda")]
mod lambda;
#[cfg(feature = "local")]
mod local;
mod middleware;
pub mod observe;
mod outbound;
mod replay;
mod retry;
mod route_key;
mod router;
mod schema;
mod service;
mod session;
pub mod settings;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod trace;

pub use app::App;
pub use context::WsContext;
pub use error::{Error, SendError, StoreError, WsError, WsResult};
pub use extract::{FromMessage, IntoReply, Json, Reply};
pub use lift_macros::{
    ws_app, ws_connect, ws_default, ws_disconnect, ws_middleware, ws_push, ws_route, ws_routes,
};
pub use middleware::{Middleware, Next};
pub use outbound::{BroadcastReport, ConnectionInfo, ManagementApi, Room, User};
pub use route_key::RouteKey;
pub use router::Router;
pub use service::{LambdaResponse, Service};
pub use settings::Settings;

/// The names a handler module needs: `use lift_runtime::prelude::*;`.
pub mod prelude {
    pub use crate::{
        ws_app, ws_connect, ws_default, ws_disconnect, ws_middleware, ws_push, ws_route, ws_routes,
        Json, Next, Reply, RouteKey, WsContext, WsError, WsResult,
    };
}

/// What the generated code uses. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::context::WsContext;
    pub use crate::extract::{FromMessage, Json};
    pub use crate::middleware::Next;
    pub use crate::route_key::RouteKind;
    pub use crate::router::{
        key_index, BoxFuture, HandlerOutput, HandlerResult, NotRouted, Probe, Push, PushInfo,
        Route, RouteInfo, Router,
    };
    pub use crate::schema::{NoJsonSchema, SchemaOf, ViaJsonSchema};
    pub use serde_json::Value;
}

/// What [`App::run`] hands `lambda_runtime` (for the dispatch benchmark, which runs events
/// through it as `lambda_runtime` would). Not a public API: it changes without notice.
#[doc(hidden)]
#[cfg(feature = "lambda")]
pub mod __lambda {
    pub use crate::lambda::{LambdaService, Payload};
}

/// The `lift-emulator` program's body (the crate `lift-emulator` is its `main`): the emulator
/// in front of functions behind a Lambda Invoke API. Not a public API: it changes without
/// notice.
#[doc(hidden)]
#[cfg(feature = "local")]
pub mod __emulator {
    pub use crate::local::standalone::{main, start, Parse, Running};
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

/// Entry points of the fuzz targets (`fuzz/`, `tests/support/fuzz.rs`) into parts that have no
/// public door of their own. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __fuzz {
    #[cfg(feature = "dynamodb")]
    pub use crate::store::dynamodb::decode_connection;

    /// The route key the emulator selects for a message `body` under the route selection
    /// `expression`: a message route of `router`, or `$default`; `Err` for an expression the
    /// emulator does not support.
    #[cfg(feature = "local")]
    pub fn select_route(
        expression: &str,
        router: &crate::Router,
        body: &str,
    ) -> Result<crate::RouteKey, crate::Error> {
        let settings = crate::Settings {
            route_selection: expression.to_owned(),
            ..crate::Settings::default()
        };
        let path = settings.selection_path()?;
        Ok(crate::local::select_route(&path, router, body).key)
    }

    /// `token` checked against the keys of `document` (a JSON Web Key Set) as `JwtAuth::jwks`
    /// checks a token against a fetched set: its claims, or why it is refused.
    #[cfg(all(feature = "jwt", any(feature = "lambda", feature = "local")))]
    pub fn jwks_verify(document: &[u8], token: &str) -> Result<serde_json::Value, String> {
        crate::auth::jwks_verify(document, token)
    }
}
