// A frame that sets its own tag: `#[ws_push]` sets it.
#[lift_runtime::ws_app]
mod chat {
    use lift_runtime::prelude::*;

    #[ws_push("message")]
    #[derive(serde::Serialize)]
    #[serde(tag = "kind")]
    pub struct Message {
        pub text: String,
    }

    #[ws_push("notice")]
    #[derive(serde::Serialize)]
    #[serde(deny_unknown_fields, rename = "note")]
    pub struct Notice {
        pub text: String,
    }

    #[ws_default]
    async fn any() -> WsResult {
        Ok(())
    }
}

fn main() {}
