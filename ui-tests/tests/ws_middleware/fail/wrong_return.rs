use lift_runtime::prelude::*;

#[ws_middleware]
async fn log(ctx: &mut WsContext, next: Next<'_>) -> WsResult<Reply> {
    next.run(ctx).await?;
    Ok(Reply::text("hi"))
}

fn main() {}
