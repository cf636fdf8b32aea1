use std::rc::Rc;

use lift_runtime::prelude::*;

#[ws_route("ping")]
async fn ping(ctx: &WsContext) -> WsResult {
    let counter = Rc::new(1);
    ctx.reply(&*counter).await?;
    let _ = counter;
    Ok(())
}

fn main() {}
