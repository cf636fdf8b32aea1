use lift_runtime::prelude::*;

fn main() {
    let _router = ws_routes![];
}
