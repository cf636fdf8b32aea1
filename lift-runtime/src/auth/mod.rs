//! Who may connect, as middleware on `$connect`: JWT authentication ([`JwtAuth`], feature
//! `jwt`), an allow-list of the pages a browser may connect from ([`AllowedOrigins`]), a cap on
//! each user's open connections ([`ConnectionLimit`]) and on each user's messages
//! ([`MessageLimit`]), both kept in the store.
//!
//! ```no_run
//! use lift_runtime::auth::{AllowedOrigins, JwtAuth};
//! # use lift_runtime::prelude::*;
//! # #[ws_app] mod app { use lift_runtime::prelude::*; #[ws_default] async fn d() -> WsResult { Ok(()) } }
//!
//! let app = lift_runtime::App::new(app::router())
//!     .middleware(AllowedOrigins::new(["https://chat.example.com"]))
//!     .middleware(JwtAuth::hs256(b"a secret of at least 32 bytes......").audience("chat"));
//! # let _ = app;
//! ```

#[cfg(all(feature = "jwt", any(feature = "lambda", feature = "local")))]
mod jwks;
#[cfg(feature = "jwt")]
mod jwt;
mod limits;
mod origins;

#[cfg(all(feature = "jwt", any(feature = "lambda", feature = "local")))]
pub(crate) use jwks::verify_with_set as jwks_verify;
#[cfg(feature = "jwt")]
pub use jwt::JwtAuth;
#[cfg(feature = "jwt")]
pub(crate) use jwt::TOKEN_ROUTE;
pub use limits::{ConnectionLimit, MessageLimit};
pub use origins::AllowedOrigins;
