//! A handler named `router` would clash with the `router()` the app module gets.
use lift_runtime::prelude::*;

#[ws_app]
mod app {
    use lift_runtime::prelude::*;

    #[ws_route("route", reply)]
    async fn router() -> WsResult<Reply> {
        Ok(Reply::text("hi"))
    }
}

fn main() {
    let _ = lift_runtime::App::new(app::router());
}
