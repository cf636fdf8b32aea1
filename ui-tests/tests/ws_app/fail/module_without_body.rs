use lift_runtime::prelude::*;

#[ws_app]
mod chat;

fn main() {}
