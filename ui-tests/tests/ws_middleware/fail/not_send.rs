use std::rc::Rc;

use lift_runtime::prelude::*;

#[ws_middleware]
async fn count(ctx: &mut WsContext, next: Next<'_>) -> WsResult<Option<Reply>> {
    let counter = Rc::new(0);
    let result = next.run(ctx).await;
    let _ = counter;
    result
}

fn main() {}
