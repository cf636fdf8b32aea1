// Outside `#[ws_app]` (for `ws_routes!`), the same checks: a struct with named fields, its own
// tag left to the macro, a type.
mod frames {
    #[lift_runtime::ws_push("event")]
    #[derive(serde::Serialize)]
    pub enum Event {
        Joined { room: String },
    }

    #[lift_runtime::ws_push("message")]
    #[derive(serde::Serialize)]
    #[serde(tag = "kind")]
    pub struct Message {
        pub text: String,
    }

    #[lift_runtime::ws_push]
    #[derive(serde::Serialize)]
    pub struct Untyped {
        pub text: String,
    }

    #[lift_runtime::ws_push("handler")]
    pub fn handler() {}
}

fn main() {}
