//! A chat room on API Gateway WebSockets. Run it locally with `cargo run --example chat`, then
//! open http://127.0.0.1:3001 in a browser (or connect to ws://127.0.0.1:3001/?name=NAME).

pub mod app;

use lift_runtime::auth::{AllowedOrigins, ConnectionLimit, MessageLimit};
use lift_runtime::{App, Settings};

#[tokio::main]
async fn main() -> Result<(), lift_runtime::Error> {
    // The settings the environment gives (`LIFT_*`), the chat page on the emulator's `/`, and a
    // keep-alive route.
    let mut settings = Settings::from_env()?;
    // The page runs on the chat's generated client (`client.js`: `chat typescript`, compiled
    // by tsc; `./scripts/chat-client` regenerates it).
    settings.local.page =
        Some(include_str!("index.html").replace("/* lift:client */", include_str!("client.js")));
    // `{"action":"ping"}` is answered `{"type":"pong"}` by API Gateway itself (no invocation):
    // what a client sends when idle, so the connection outlives API Gateway's 10 idle minutes.
    settings.keepalive_route = Some("ping".to_owned());
    // Five minutes of room history (unless LIFT_HISTORY_SECS says otherwise): a client back
    // from a reconnect gets what it missed, in order (the generated client asks by itself).
    if std::env::var_os("LIFT_HISTORY_SECS").is_none() {
        settings.history = Some(std::time::Duration::from_secs(5 * 60));
    }
    // Presence (unless LIFT_PRESENCE=0): everyone is told who arrives and who leaves, and the
    // page lists who is there (`users`).
    if std::env::var_os("LIFT_PRESENCE").is_none() {
        settings.presence = true;
    }
    let mut app = App::new(app::chat::router()).settings(settings);
    // With LIFT_ALLOWED_ORIGINS (`https://chat.example.com,http://localhost:3001`), browsers
    // may connect only from those pages (403 otherwise); clients without `Origin` still may.
    if let Some(origins) = std::env::var("LIFT_ALLOWED_ORIGINS")
        .ok()
        .filter(|s| !s.trim().is_empty())
    {
        app = app.middleware(AllowedOrigins::new(origins.split(',')));
    }
    // With a token setting, every connection needs a token (in `?token=`, `Authorization:
    // Bearer`, or `Sec-WebSocket-Protocol`); the name comes from its `name`, else its `sub`.
    if let Some(auth) = app::token_check(|name| std::env::var(name).ok()) {
        app = app.middleware(auth);
    }
    // Caps per user, across their devices and every Lambda instance (kept in the store):
    // LIFT_MAX_CONNECTIONS_PER_USER open connections (429 at `$connect` past it), and
    // LIFT_MAX_MESSAGES_PER_MINUTE messages (`rate_limited` error frames past it).
    let number = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse::<u32>().ok())
    };
    if let Some(max) = number("LIFT_MAX_CONNECTIONS_PER_USER") {
        app = app.middleware(ConnectionLimit::per_user(max as usize));
    }
    if let Some(max) = number("LIFT_MAX_MESSAGES_PER_MINUTE") {
        let minute = std::time::Duration::from_secs(60);
        app = app.middleware(MessageLimit::per_user(max, minute));
    }
    // `chat template [--stage NAME ...]` and `chat asyncapi` print the deployment documents.
    if lift_runtime::deploy::print_if_asked(&app)? {
        return Ok(());
    }
    app.run().await
}
