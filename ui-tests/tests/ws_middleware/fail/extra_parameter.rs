use lift_runtime::prelude::*;

#[ws_middleware]
async fn log(ctx: &mut WsContext, next: Next<'_>, body: String) -> WsResult<Option<Reply>> {
    let _ = body;
    next.run(ctx).await
}

fn main() {}
