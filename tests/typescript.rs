//! The TypeScript client `deploy::typescript` generates, read as text: what each route, reply
//! and pushed frame becomes. `scripts/test` compiles the same modules with `tsc --strict` and
//! drives the chat's against the emulator from Node (tests/client).

use lift_runtime::deploy::typescript;
use lift_runtime::{App, Settings};
use lift_tests::chat_app::chat;

fn chat_client(settings: Settings) -> String {
    typescript(&App::new(chat::router()).settings(settings))
}

#[test]
fn the_chat_client_has_a_typed_method_per_route_and_its_pushed_frames() {
    let module = chat_client(Settings {
        keepalive_route: Some("ping".into()),
        ..Default::default()
    });
    for line in [
        // One-way: the typed message, nothing returned.
        "  sendMessage(message: SendMessage): void {",
        "    this.send(\"sendMessage\", message);",
        // Two-way: a promise of the typed reply, matched by request id.
        "  join(message: RoomRequest, options?: CallOptions): Promise<RoomReply> {",
        "  leave(message: RoomRequest, options?: CallOptions): Promise<RoomReply> {",
        "  whoami(message?: Record<string, unknown>, options?: CallOptions): Promise<WhoamiReply> {",
        // The message types from the handlers' `Json<T>`, documented from the doc comments.
        "export interface SendMessage {",
        "  /** What to say. */",
        "  text: string;",
        "  room?: string | null;",
        // The pushed frame, with the tag `#[ws_push]` adds.
        "export interface ChatMessage {",
        "  type: \"message\";",
        "export interface Frames {",
        "  message: ChatMessage;",
        // The keep-alive: the route field and key, and a method.
        "const ROUTE_FIELD: readonly string[] = [\"action\"];",
        "const KEEPALIVE: string | null = \"ping\";",
        // Sessions are on by default: the client connects with one.
        "const SESSIONS: boolean = true;",
        "  ping(options?: CallOptions): Promise<void> {",
        "export function connect(url: string, options: ConnectOptions = {}): Promise<Client> {",
    ] {
        assert!(module.lines().any(|l| l == line), "no `{line}` in:\n{module}");
    }
    // RoomRequest is the message of two routes, declared once.
    assert_eq!(module.matches("export interface RoomRequest {").count(), 1);
    // `$connect` and `$disconnect` are not methods; the chat has no `$default` handler.
    assert!(!module.contains("sendDefault"));
    assert!(!module.contains("\"$connect\""));
    // Self-contained: no imports.
    assert!(!module.lines().any(|l| l.starts_with("import ")));
}

#[test]
fn without_a_keepalive_route_there_is_no_ping_and_nested_route_fields_are_followed() {
    let module = chat_client(Settings {
        route_selection: "$request.body.meta.kind".into(),
        session_ttl: None,
        ..Default::default()
    });
    assert!(module.contains("const SESSIONS: boolean = false;"));
    assert!(module.contains("const KEEPALIVE: string | null = null;"));
    assert!(!module.contains("  ping(options?: CallOptions)"));
    assert!(module.contains("const ROUTE_FIELD: readonly string[] = [\"meta\", \"kind\"];"));
}

#[lift_runtime::ws_app]
mod awkward {
    use lift_runtime::prelude::*;
    use serde::Serialize;

    /// A frame without a schema (no `JsonSchema`).
    #[ws_push("typing-started")]
    #[derive(Serialize)]
    pub struct Typing {
        pub user: String,
    }

    // Keys that are not identifiers, or are the client's own members.
    #[ws_route("send-message")]
    async fn dashed() -> WsResult {
        Ok(())
    }

    #[ws_route("close")]
    async fn close() -> WsResult {
        Ok(())
    }

    #[ws_route("on", reply)]
    async fn on() -> WsResult<Reply> {
        Ok(Reply::text("text, not JSON"))
    }

    #[ws_default(reply)]
    async fn fallback(body: String) -> WsResult<Reply> {
        Ok(Reply::text(body))
    }
}

#[test]
fn awkward_keys_get_method_names_that_cannot_clash() {
    let module = typescript(&App::new(awkward::router()));
    for line in [
        "  sendMessage(message?: Record<string, unknown>): void {",
        "    this.send(\"send-message\", message);",
        "  closeRoute(message?: Record<string, unknown>): void {",
        // A text reply cannot carry the request id: the oldest such call takes it (`true`).
        "  onRoute(message?: Record<string, unknown>, options?: CallOptions): Promise<unknown> {",
        "    return this.call(\"on\", message, options, true);",
        // `$default`: no route field.
        "    return this.call(null, message, options, true);",
        // A pushed frame without a schema: its tag, and anything else.
        "  \"typing-started\": Typing;",
    ] {
        assert!(
            module.lines().any(|l| l == line),
            "no `{line}` in:\n{module}"
        );
    }
    assert!(module.contains("  type: \"typing-started\";"), "{module}");
}
