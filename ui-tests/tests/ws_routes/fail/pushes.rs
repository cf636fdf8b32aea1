// The frames `ws_routes!` lists: declared with `#[ws_push]`, each type once, after `push:`.
mod app {
    use lift_runtime::prelude::*;
    use serde::Serialize;

    #[ws_push("message")]
    #[derive(Serialize)]
    pub struct Message {
        pub text: String,
    }

    #[ws_push("message")]
    #[derive(Serialize)]
    pub struct Shout {
        pub text: String,
    }

    #[derive(Serialize)]
    pub struct Plain {
        pub text: String,
    }

    #[ws_route("say")]
    pub async fn say() -> WsResult {
        Ok(())
    }
}

fn main() {
    let _ = lift_runtime::ws_routes![app::say; push: app::Plain];
    let _ = lift_runtime::ws_routes![app::say; push: app::Message, app::Shout];
    let _ = lift_runtime::ws_routes![app::say; pushes: app::Message];
}
