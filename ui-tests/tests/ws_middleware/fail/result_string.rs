use lift_runtime::prelude::*;

#[ws_middleware]
async fn audit(ctx: &mut WsContext, next: Next<'_>) -> Result<(), String> {
    next.run(ctx).await.map_err(|err| err.to_string())?;
    Ok(())
}

#[ws_app]
mod app {
    use lift_runtime::prelude::*;

    #[ws_default]
    async fn fallback() -> WsResult {
        Ok(())
    }
}

fn main() {
    let _app = lift_runtime::App::new(app::router()).middleware(audit);
}
