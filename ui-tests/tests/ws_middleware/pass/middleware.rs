use lift_runtime::prelude::*;

#[ws_middleware]
async fn timing(ctx: &mut WsContext, next: Next<'_>) -> WsResult<Option<Reply>> {
    let started = std::time::Instant::now();
    let result = next.run(ctx).await;
    let _ = started.elapsed();
    result
}

#[ws_middleware]
async fn explicit(ctx: &mut lift_runtime::WsContext, next: lift_runtime::Next<'_>) -> WsResult<Option<lift_runtime::Reply>> {
    next.run(ctx).await
}

#[ws_middleware]
async fn named<'a>(ctx: &'a mut WsContext, next: Next<'a>) -> WsResult<Option<Reply>> {
    next.run(ctx).await
}

#[ws_app]
mod app {
    use lift_runtime::prelude::*;

    #[ws_route("ping", reply)]
    async fn ping() -> WsResult<Reply> {
        Ok(Reply::text("pong"))
    }
}

fn main() {
    let _app = lift_runtime::App::new(app::router())
        .middleware(timing)
        .middleware(explicit)
        .middleware(named);
}
