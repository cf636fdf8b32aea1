//! [`typescript`]: a typed TypeScript client of an app, generated from its router.

use serde_json::Value;

use super::ts_types::{is_type_name, Types};
use super::{api_routes, push_schema, selection_path};
use crate::app::App;
use crate::route_key::RouteKind;

/// The client runtime every generated module ends with: the connection, calls matched by
/// request id, events, keep-alive and reconnects.
const RUNTIME: &str = include_str!("client.ts");

/// Members of the generated `Client` a route's method cannot take the name of.
const MEMBERS: &[&str] = &[
    "on",
    "close",
    "sendRaw",
    "ping",
    "start",
    "send",
    "call",
    "keepalivePing",
    "open",
    "constructor",
    "socket",
    "url",
    "options",
    "listeners",
    "pending",
    "pings",
    "queue",
    "nextId",
    "attempt",
    "opened",
    "closed",
    "idle",
    "retry",
    "routeField",
    "keepalive",
    "frame",
    "write",
    "armKeepalive",
    "receive",
    "failPending",
    "emit",
    "seen",
    "held",
    "session",
    "replayRoute",
    "dispatch",
    "taken",
    "take",
    "replay",
    "release",
    "renew",
    "tokenRoute",
    "scheduleRenewal",
    "connectWith",
    "expiry",
];

/// A TypeScript module that is a typed client of the app: one self-contained file (no
/// dependency but the platform's `WebSocket`), generated from the router, the JSON Schemas of
/// the handlers' message types (feature `schemas`) and the frames declared with
/// [`ws_push`](crate::ws_push). `your-app typescript > app.ts` prints it (see
/// [`print_if_asked`](super::print_if_asked)).
///
/// The module exports `connect(url, options)`, which resolves to a `Client` once the connection
/// is open, with
///
/// - a method per message route, named after the route key (`sendMessage`; a key that is not an
///   identifier is camel-cased, `send-message` → `sendMessage`): a one-way route's takes the
///   message (typed by the handler's `Json<T>`) and returns nothing; a two-way route's returns
///   a `Promise` of the typed reply, matched to the call by `requestId`, so calls may overlap.
///   The promise rejects with a `LiftError` for an error frame about the call (`code` is the
///   frame's), after `timeoutMs` without a reply (`timeout`, default 30 s, per client and per
///   call), and when the connection drops first (`disconnected`);
/// - `on(type, listener)`: a pushed frame by its `"type"`, typed by its schema; `error` (error
///   frames no call waits for); the client's own `open`, `close`, `reconnecting` and `frame`
///   (anything else);
/// - `ping()` when the app has a keep-alive route ([`Settings::keepalive_route`](crate::Settings::keepalive_route)):
///   the client also sends it by itself after `keepaliveMs` without sending (default 5
///   minutes; API Gateway closes a connection after 10 idle minutes);
/// - `close()`; `sendRaw(frame)` for anything outside the routes.
///
/// It reconnects with jittered exponential backoff when the connection drops or API Gateway
/// ends it (1001 after 2 hours, 1006), unless `reconnect: false`; messages sent meanwhile wait
/// for the new connection.
///
/// ```
/// #[lift_runtime::ws_app]
/// mod app {
///     use lift_runtime::prelude::*;
///
///     #[ws_route("ping", reply)]
///     async fn ping() -> WsResult<Reply> {
///         Ok(Reply::text("pong"))
///     }
/// }
///
/// let module = lift_runtime::deploy::typescript(&lift_runtime::App::new(app::router()));
/// assert!(module.contains("export function connect(url: string, options: ConnectOptions = {}): Promise<Client>"));
/// assert!(module.contains("  ping(message?: Record<string, unknown>, options?: CallOptions): Promise<unknown> {"));
/// ```
pub fn typescript(app: &App) -> String {
    let router = app.router();
    let settings = app.described_settings();
    let keepalive = settings.keepalive_route.as_deref();
    let mut types = Types::default();
    let mut methods = String::new();
    let mut taken: Vec<String> = MEMBERS.iter().map(|m| (*m).to_owned()).collect();
    if keepalive.is_none() {
        taken.retain(|m| m != "ping");
    }
    for route in api_routes(router) {
        let Some(info) = route.info else { continue };
        if router.builtins().any(|builtin| builtin.key == route.key) {
            // The runtime's own routes: the client's runtime calls them itself.
            continue;
        }
        let (key, name) = match route.kind {
            RouteKind::Message => (Some(route.key), method_name(route.key)),
            RouteKind::Default => (None, "sendDefault".to_owned()),
            RouteKind::Connect | RouteKind::Disconnect => continue,
        };
        let name = unique(name, &mut taken);
        let pascal = pascal(&name);
        let (param, argument) = match (info.message_schema)() {
            Some(schema) => (
                format!(
                    "message: {}",
                    types.name(&schema, &format!("{pascal}Message"))
                ),
                "message",
            ),
            None => ("message?: Record<string, unknown>".to_owned(), "message"),
        };
        let key_literal = match key {
            Some(key) => Value::String(key.to_owned()).to_string(),
            None => "null".to_owned(),
        };
        let shown = key.unwrap_or(crate::route_key::RouteKey::DEFAULT);
        if info.reply {
            let reply_schema = (info.reply_schema)();
            let loose = reply_schema.is_none();
            let reply = match reply_schema {
                Some(schema) => types.name(&schema, &format!("{pascal}Reply")),
                None => "unknown".to_owned(),
            };
            methods.push_str(&format!(
                "  /** `{shown}` (two-way): resolves to the reply, rejects with a `LiftError`. */\n  \
                 {name}({param}, options?: CallOptions): Promise<{reply}> {{\n    \
                 return this.call({key_literal}, {argument}, options, {loose});\n  }}\n\n"
            ));
        } else {
            methods.push_str(&format!(
                "  /** `{shown}` (one-way): an error frame about it comes as an `error` event. */\n  \
                 {name}({param}): void {{\n    this.send({key_literal}, {argument});\n  }}\n\n"
            ));
        }
    }
    if keepalive.is_some() {
        methods.push_str(
            "  /** Sends the keep-alive message (API Gateway answers it, no handler runs); resolves on its `pong`. */\n  \
             ping(options?: CallOptions): Promise<void> {\n    return this.keepalivePing(options);\n  }\n\n",
        );
    }
    let mut frames = String::new();
    for push in router.pushes() {
        let ty = types.name(&push_schema(push), push.name);
        let key = if is_type_name(push.tag) {
            push.tag.to_owned()
        } else {
            Value::String(push.tag.to_owned()).to_string()
        };
        frames.push_str(&format!(
            "  /** `{}` frames ({}). */\n  {key}: {ty};\n",
            push.tag, push.name
        ));
    }
    let route_field: Vec<String> = selection_path(&settings.route_selection)
        .into_iter()
        .map(|f| Value::String(f.to_owned()).to_string())
        .collect();
    let keepalive_literal = match keepalive {
        Some(key) => Value::String(key.to_owned()).to_string(),
        None => "null".to_owned(),
    };
    let sessions = settings.session_ttl.is_some();
    let token = Value::String(crate::route_key::RouteKey::TOKEN.to_owned()).to_string();
    let replay = match settings.history {
        Some(_) => Value::String(crate::route_key::RouteKey::REPLAY.to_owned()).to_string(),
        None => "null".to_owned(),
    };
    let declarations = types.declarations();
    let methods = methods.trim_end();
    format!(
        "// A typed client of this app, generated by Lift from its router (`your-app typescript`):\n\
         // regenerate it, do not edit it. No dependencies but the platform's WebSocket.\n\
         //\n\
         //   import {{ connect }} from \"./app\";\n\
         //   const client = await connect(\"ws://127.0.0.1:3001\", {{ query: {{ name: \"ana\" }} }});\n\
         \n\
         // ---- The app's messages ---------------------------------------------------------------------\n\
         \n\
         {declarations}\n\
         {RUNTIME}\n\
         // ---- This app's client ------------------------------------------------------------------\n\
         \n\
         /** The frames the server pushes, by their `type` (declared with `#[ws_push]`). */\n\
         export interface Frames {{\n{frames}}}\n\
         \n\
         /** The field of a message API Gateway selects its route by (`$request.body.action`). */\n\
         const ROUTE_FIELD: readonly string[] = [{}];\n\
         /** The keep-alive route API Gateway answers itself, if the app has one. */\n\
         const KEEPALIVE: string | null = {keepalive_literal};\n\
         /** Whether the app resumes sessions (`?session=ID`) after a reconnect. */\n\
         const SESSIONS: boolean = {sessions};\n\
         /** The route that replays a room's history after a reconnect, if the app keeps it. */\n\
         const REPLAY: string | null = {replay};\n\
         /** The route a fresh token is presented on (apps with `JwtAuth`; with `getToken`). */\n\
         const TOKEN: string | null = {token};\n\
         \n\
         /** A connection to the app: a method per route, events by frame type. */\n\
         export class Client extends LiftSocket<Frames> {{\n  \
         private constructor(url: string, options: ConnectOptions) {{\n    \
         super(url, options, ROUTE_FIELD, KEEPALIVE, SESSIONS, REPLAY, TOKEN);\n  }}\n\n  \
         /** Opens a connection: see {{@link connect}}. */\n  \
         static open(url: string, options: ConnectOptions = {{}}): Promise<Client> {{\n    \
         const client = new Client(url, options);\n    \
         return client.start().then(() => client);\n  }}\n\n\
         {methods}\n}}\n\
         \n\
         /** Connects to the app at `url` (`ws://127.0.0.1:3001`, `wss://ID.execute-api.REGION.amazonaws.com/STAGE`);\n \
         * resolves once the connection is open, rejects with a `LiftError` (`refused`) if it is not. */\n\
         export function connect(url: string, options: ConnectOptions = {{}}): Promise<Client> {{\n  \
         return Client.open(url, options);\n}}\n",
        route_field.join(", ")
    )
}

/// A method name for a route key: the key when it is an identifier, else its words camel-cased
/// (`send-message` → `sendMessage`, `2fa` → `_2fa`).
fn method_name(key: &str) -> String {
    if is_type_name(key) {
        return key.to_owned();
    }
    let mut out = String::new();
    for (i, word) in key
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .enumerate()
    {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            if i == 0 {
                out.push(first);
            } else {
                out.push(first.to_ascii_uppercase());
            }
            out.extend(chars);
        }
    }
    match out.chars().next() {
        None => "route".to_owned(),
        Some(c) if c.is_ascii_digit() => format!("_{out}"),
        _ => out,
    }
}

/// `name`, or `nameRoute`, `nameRoute2`, ... when taken; then taken.
fn unique(name: String, taken: &mut Vec<String>) -> String {
    let mut candidate = name.clone();
    let mut n = 1;
    while taken.contains(&candidate) {
        candidate = match n {
            1 => format!("{name}Route"),
            _ => format!("{name}Route{n}"),
        };
        n += 1;
    }
    taken.push(candidate.clone());
    candidate
}

/// `sendMessage` → `SendMessage`.
fn pascal(name: &str) -> String {
    let name = name.trim_start_matches('_');
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => "Route".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{method_name, unique};

    #[test]
    fn route_keys_become_method_names() {
        assert_eq!(method_name("sendMessage"), "sendMessage");
        assert_eq!(method_name("send-message"), "sendMessage");
        assert_eq!(method_name("room.join"), "roomJoin");
        assert_eq!(method_name("2fa"), "_2fa");
        assert_eq!(method_name("--"), "route");
        let mut taken = vec!["on".to_owned(), "close".to_owned()];
        assert_eq!(unique("close".into(), &mut taken), "closeRoute");
        assert_eq!(unique("close".into(), &mut taken), "closeRoute2");
        assert_eq!(unique("join".into(), &mut taken), "join");
    }
}
