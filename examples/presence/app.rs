//! The presence app: its handlers live in two files and are assembled here with `ws_routes!`.
//! `main.rs` runs it; the tests drive it too.

#[path = "messages.rs"]
pub mod messages;
#[path = "session.rs"]
pub mod session;

use lift_runtime::prelude::*;

/// The app's routes, from both files, and the frames it pushes.
pub fn router() -> lift_runtime::Router {
    ws_routes![
        session::connect,
        session::disconnect,
        messages::hello,
        messages::dm;
        // The frames it pushes, declared with `#[ws_push]` where they are defined.
        push: messages::Online, messages::DirectMessage, session::Offline
    ]
}
