//! Every supported handler shape, outside `#[ws_app]`; the functions stay callable as written.
use lift_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
pub struct In {
    pub n: u32,
}

#[derive(Serialize)]
pub struct Out {
    pub n: u32,
}

#[ws_route("none")]
async fn no_params() -> WsResult {
    Ok(())
}

#[ws_route("shared")]
async fn shared(_ctx: &WsContext) -> WsResult {
    Ok(())
}

#[ws_route("mutable")]
async fn mutable(ctx: &mut WsContext) -> WsResult {
    ctx.set_user("u");
    Ok(())
}

#[ws_route("json")]
async fn json(_ctx: &WsContext, Json(input): Json<In>) -> WsResult<Json<Out>> {
    Ok(Json(Out { n: input.n + 1 }))
}

#[ws_route("raw", reply)]
async fn raw(body: String) -> WsResult<Reply> {
    Ok(Reply::text(body))
}

#[ws_route("bytes", reply)]
async fn bytes(ctx: &WsContext, body: Vec<u8>) -> WsResult<Reply> {
    Ok(Reply::text(format!("{} bytes, base64: {}", body.len(), ctx.event().is_base64_encoded)))
}

#[ws_route("optional", reply)]
async fn optional(_ctx: &WsContext) -> WsResult<Option<Reply>> {
    Ok(None)
}

#[ws_route("public", reply)]
pub async fn public(ctx: &WsContext, Json(a): Json<In>) -> WsResult<Reply> {
    Ok(Reply::text(format!("{} {}", a.n, ctx.connection_id())))
}

/// A reply borrowed from the context, its lifetime named.
#[derive(Serialize)]
pub struct Caller<'a> {
    pub id: &'a str,
}

#[ws_route("named_lifetime", reply)]
async fn named_lifetime<'a>(ctx: &'a WsContext) -> WsResult<Json<Caller<'a>>> {
    Ok(Json(Caller {
        id: ctx.connection_id(),
    }))
}

#[ws_route("elided_lifetime", reply)]
async fn elided_lifetime(ctx: &WsContext) -> WsResult<Json<Caller<'_>>> {
    Ok(Json(Caller {
        id: ctx.connection_id(),
    }))
}

fn main() {
    // The functions are emitted unchanged: they can be called directly, e.g. in unit tests.
    let _ = no_params();
    let _ = raw(String::from("hi"));
    let _ = (shared, mutable, json, bytes, optional, public);
    let _ = (named_lifetime, elided_lifetime);
}
