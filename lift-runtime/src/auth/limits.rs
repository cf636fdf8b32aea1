//! [`ConnectionLimit`]: how many connections a user may have open at once.

use crate::context::WsContext;
use crate::error::WsError;
use crate::middleware::{Middleware, Next};
use crate::route_key::RouteKey;
use crate::router::{BoxFuture, HandlerResult};

/// Refuses a `$connect` that would give its user more than `max` open connections, with `429`
/// (`too_many_connections`) and nothing stored: a client looping on reconnects, or one user
/// opening thousands of sockets, cannot fill the store or a room.
///
/// The user is the one the `$connect` handler set (else the verified token's subject), so the
/// check runs after the handler; connections without a user are not counted. The count is the
/// store's (`user_connections`: one query per `$connect` on DynamoDB), so the limit holds
/// across Lambda instances; two handshakes of one user at the same instant may both pass it.
/// A reconnect that resumes a session does not count the connection it takes over. A
/// connection whose `$disconnect` has not come yet still counts.
///
/// ```
/// use lift_runtime::auth::ConnectionLimit;
/// # #[lift_runtime::ws_app] mod app { use lift_runtime::prelude::*; #[ws_default] async fn d() -> WsResult { Ok(()) } }
///
/// let app = lift_runtime::App::new(app::router()).middleware(ConnectionLimit::per_user(5));
/// # let _ = app;
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimit {
    max: usize,
}

impl ConnectionLimit {
    /// At most `max` open connections per user (at least 1).
    pub fn per_user(max: usize) -> Self {
        ConnectionLimit { max: max.max(1) }
    }
}

impl<'a> Middleware<'a> for ConnectionLimit {
    type Future = BoxFuture<'a, HandlerResult>;

    fn call(&self, ctx: &'a mut WsContext, next: Next<'a>) -> Self::Future {
        let max = self.max;
        Box::pin(async move {
            if *ctx.route() != RouteKey::Connect {
                return next.run(ctx).await;
            }
            let accepted = next.run(ctx).await?;
            let Some(user) = ctx.connecting_owner() else {
                return Ok(accepted);
            };
            // The connection a session resume takes over is about to go: not counted.
            let session = ctx.query(crate::session::PARAM).map(str::to_owned);
            let open = ctx
                .user_connections(&user)
                .await?
                .into_iter()
                .filter(|conn| session.is_none() || conn.session != session)
                .count();
            if open >= max {
                tracing::info!(
                    open,
                    max,
                    "connection refused: too many connections for the user"
                );
                return Err(WsError::new(
                    429,
                    "too_many_connections",
                    format!("this user has {open} connections open, the most this app allows: close one first"),
                ));
            }
            Ok(accepted)
        })
    }
}
