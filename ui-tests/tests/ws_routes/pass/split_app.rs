//! An app whose handlers live in several files, assembled with `ws_routes!`.
use lift_runtime::prelude::*;

#[path = "split/rooms.rs"]
mod rooms;
#[path = "split/system.rs"]
mod system;

fn main() {
    let router = ws_routes![system::connect, system::fallback, rooms::join, rooms::leave];
    assert_eq!(
        format!("{router:?}"),
        r#"Router ["$connect", "$default", "join (reply)", "leave"]"#
    );
    // A trailing comma is fine too.
    let router = ws_routes![rooms::leave,];
    assert_eq!(format!("{router:?}"), r#"Router ["leave"]"#);
}
