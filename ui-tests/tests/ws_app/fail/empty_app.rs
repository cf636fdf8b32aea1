use lift_runtime::prelude::*;

#[ws_app]
mod chat {
    pub fn helper() {}
}

fn main() {}
