use lift_runtime::prelude::*;

#[ws_route("ping")]
async extern "C" fn ping() -> WsResult {
    Ok(())
}

fn main() {}
