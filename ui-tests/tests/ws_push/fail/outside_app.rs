// A frame outside any app: no router would list it.
#[lift_runtime::ws_push("message")]
#[derive(serde::Serialize)]
pub struct Message {
    pub text: String,
}

fn main() {}
