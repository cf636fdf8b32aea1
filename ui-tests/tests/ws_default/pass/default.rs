use lift_runtime::prelude::*;

#[ws_default(reply)]
async fn echo(body: String) -> WsResult<Reply> {
    Ok(Reply::text(body))
}

fn main() {
    let _ = echo(String::from("x"));
}
