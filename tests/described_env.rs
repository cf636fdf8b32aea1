//! An app given no settings is described (template, AsyncAPI, TypeScript client) with the
//! settings the environment gives, as `App::run` would run it; settings given in code win. One
//! test in its own binary: it sets a process-wide environment variable.

use lift_runtime::deploy::typescript;
use lift_runtime::{App, Settings};
use lift_tests::chat_app::chat;

#[test]
fn the_environment_is_described_when_the_code_gives_no_settings() {
    assert!(typescript(&App::new(chat::router())).contains("const SESSIONS: boolean = true;"));
    std::env::set_var("LIFT_SESSION_TTL_SECS", "0");
    let from_env = typescript(&App::new(chat::router()));
    let given = typescript(&App::new(chat::router()).settings(Settings::default()));
    std::env::remove_var("LIFT_SESSION_TTL_SECS");
    assert!(
        from_env.contains("const SESSIONS: boolean = false;"),
        "sessions off by the environment"
    );
    assert!(
        given.contains("const SESSIONS: boolean = true;"),
        "settings in code win"
    );
}
