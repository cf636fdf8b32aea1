use lift_runtime::prelude::*;

#[ws_middleware("ping")]
async fn log(ctx: &mut WsContext, next: Next<'_>) -> WsResult<Option<Reply>> {
    next.run(ctx).await
}

fn main() {}
