// What cannot be a frame: an enum, a tuple struct, a function, a generic struct, a struct that
// is not serialized.
#[lift_runtime::ws_app]
mod chat {
    use lift_runtime::prelude::*;

    #[ws_push("event")]
    #[derive(serde::Serialize)]
    pub enum Event {
        Joined { room: String },
    }

    #[ws_push("pair")]
    #[derive(serde::Serialize)]
    pub struct Pair(String, String);

    #[ws_push("boxed")]
    #[derive(serde::Serialize)]
    pub struct Boxed<T> {
        pub value: T,
    }

    #[ws_push("plain")]
    pub struct Plain {
        pub text: String,
    }

    #[ws_push("handler")]
    #[ws_default]
    async fn any() -> WsResult {
        Ok(())
    }
}

fn main() {}
