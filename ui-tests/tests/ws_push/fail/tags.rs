// Frame types: written, not reserved, each once.
#[lift_runtime::ws_app]
mod chat {
    use lift_runtime::prelude::*;

    #[ws_push]
    #[derive(serde::Serialize)]
    pub struct Untagged {
        pub text: String,
    }

    #[ws_push("error")]
    #[derive(serde::Serialize)]
    pub struct Oops {
        pub text: String,
    }

    #[ws_push("message")]
    #[derive(serde::Serialize)]
    pub struct Message {
        pub text: String,
    }

    #[ws_push("message")]
    #[derive(serde::Serialize)]
    pub struct AlsoMessage {
        pub text: String,
    }

    #[ws_push("")]
    #[derive(serde::Serialize)]
    pub struct Nameless {
        pub text: String,
    }

    #[ws_default]
    async fn any() -> WsResult {
        Ok(())
    }
}

fn main() {}
