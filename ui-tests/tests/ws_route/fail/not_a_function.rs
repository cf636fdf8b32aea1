use lift_runtime::prelude::*;

#[ws_route("ping")]
struct Ping;

fn main() {}
