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

/// Limits the messages of each user, across all their connections and every Lambda instance:
/// at most `max` in each window of `window` (windows aligned to the clock: a minute window
/// starts at each full minute). A message past it is answered with the error frame
/// `rate_limited` (status 429, saying when the window ends) and not handled; the connection
/// stays open. `$connect` and `$disconnect` are never limited, nor are connections without a
/// user (the handler's `set_user`, else the token's subject): limit those per connection with
/// [`RateLimit`](crate::observe::RateLimit).
///
/// The count is the store's ([`ConnectionStore::count`](crate::store::ConnectionStore::count):
/// one `UpdateItem` per message on DynamoDB), so it holds across Lambda instances; the user of
/// each connection is read from its record once per connection and instance. A window's count
/// starts from nothing, so a user may send up to `2 × max` messages around a window's end. When
/// the store fails, the message is let through (and the failure logged): a limit should not stop
/// an app whose store is down for a moment.
///
/// ```
/// use std::time::Duration;
/// use lift_runtime::auth::MessageLimit;
/// # #[lift_runtime::ws_app] mod app { use lift_runtime::prelude::*; #[ws_default] async fn d() -> WsResult { Ok(()) } }
///
/// // 120 messages a minute per user, whatever their devices.
/// let app = lift_runtime::App::new(app::router())
///     .middleware(MessageLimit::per_user(120, Duration::from_secs(60)));
/// # let _ = app;
/// ```
#[derive(Clone)]
pub struct MessageLimit {
    max: u64,
    window: std::time::Duration,
    /// Each connection's user (`None`: it has none), as read from its record.
    users: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Option<String>>>>,
}

impl MessageLimit {
    /// At most `max` messages (at least 1) per user in each `window` (at least a second).
    pub fn per_user(max: u32, window: std::time::Duration) -> Self {
        MessageLimit {
            max: u64::from(max.max(1)),
            window: window.max(std::time::Duration::from_secs(1)),
            users: std::sync::Arc::default(),
        }
    }

    fn users(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Option<String>>> {
        self.users
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The caller's user: remembered, else read from its record (and remembered).
    async fn user_of(&self, ctx: &WsContext) -> Result<Option<String>, WsError> {
        if let Some(user) = self.users().get(ctx.connection_id()) {
            return Ok(user.clone());
        }
        let user = ctx.connection().await?.and_then(|conn| {
            conn.user
                .clone()
                .or_else(|| conn.metadata["claims"]["sub"].as_str().map(str::to_owned))
        });
        let mut users = self.users();
        if users.len() >= 100_000 {
            users.clear();
        }
        users.insert(ctx.connection_id().to_owned(), user.clone());
        Ok(user)
    }

    /// The end of the window `now` is in.
    fn window_end(&self, now: std::time::SystemTime) -> std::time::SystemTime {
        let secs = self.window.as_secs();
        let now_secs = now
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        std::time::UNIX_EPOCH + std::time::Duration::from_secs((now_secs / secs + 1) * secs)
    }
}

impl std::fmt::Debug for MessageLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageLimit")
            .field("max", &self.max)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl<'a> Middleware<'a> for MessageLimit {
    type Future = BoxFuture<'a, HandlerResult>;

    fn call(&self, ctx: &'a mut WsContext, next: Next<'a>) -> Self::Future {
        let limit = self.clone();
        Box::pin(async move {
            match ctx.route() {
                RouteKey::Connect => return next.run(ctx).await,
                RouteKey::Disconnect => {
                    limit.users().remove(ctx.connection_id());
                    return next.run(ctx).await;
                }
                _ => {}
            }
            let Some(user) = limit.user_of(ctx).await? else {
                return next.run(ctx).await;
            };
            let now = std::time::SystemTime::now();
            let end = limit.window_end(now);
            match ctx.store().count(&format!("messages:{user}"), end).await {
                Ok(count) if count > limit.max => {
                    let wait = end.duration_since(now).unwrap_or_default().as_secs() + 1;
                    tracing::info!(count, max = limit.max, "message refused: the user's rate");
                    return Err(WsError::new(
                        429,
                        "rate_limited",
                        format!(
                            "this user sent {} messages in {} s, the most this app allows: \
                             wait {wait} s",
                            limit.max,
                            limit.window.as_secs()
                        ),
                    ));
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "could not count the user's messages: let through");
                }
            }
            next.run(ctx).await
        })
    }
}
