use lift_runtime::prelude::*;

#[ws_app]
mod app {
    use lift_runtime::prelude::*;

    #[ws_route("ping")]
    async fn ping(_ctx: &WsContext) -> () {
        ()
    }
}

fn main() {
    let _app = lift_runtime::App::new(app::router());
}
