use lift_runtime::prelude::*;

struct Ping;

fn main() {
    let _router = ws_routes![Ping];
}
