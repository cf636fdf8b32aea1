//! An app whose handlers live in several files, assembled with `ws_routes!`.
use lift_runtime::prelude::*;

#[path = "split/rooms.rs"]
mod rooms;
#[path = "split/system.rs"]
mod system;

fn main() {
    let router = ws_routes![system::connect, system::fallback, rooms::join, rooms::leave];
    let keys: Vec<_> = router.routes().iter().map(|r| r.key).collect();
    assert_eq!(keys, ["$connect", "$default", "join", "leave"]);
    assert!(router.route("join").unwrap().reply);
    // A trailing comma is fine too.
    let router = ws_routes![rooms::leave,];
    assert_eq!(router.routes().len(), 1);
}
