//! The built-in replay route of apps with room history
//! ([`Settings::history`](crate::Settings::history)): a client back from a reconnect sends
//! `{"action":"lift:replay","since":{"lobby":41}}` (or `"since": 41` for each of its rooms)
//! and gets, for each room it is in, the kept broadcasts numbered after its `since`, in order,
//! then one `replayed` frame saying what was replayed:
//!
//! ```json
//! {"type":"replayed","rooms":{"lobby":{"since":41,"last":57,"replayed":16,"missed":false,"more":false}}}
//! ```
//!
//! `missed`: messages after `since` are no longer kept (history keeps them for
//! `Settings::history`), or a room's numbering started again (a store emptied); `more`: this
//! replay stopped early (its time, or 1,000 frames) and the client asks again from what it got.
//! Replayed frames are sent one after the other, so they arrive in order; live broadcasts may
//! arrive among them, which a client tells apart by `room` and `seq` (the generated client holds
//! live frames back until `replayed`, and drops numbers it has seen).

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::context::WsContext;
use crate::error::WsError;
use crate::extract::Reply;
use crate::route_key::{RouteKey, RouteKind};
use crate::router::{BoxFuture, HandlerResult, RouteInfo};

/// Most frames one replay sends before it answers `more`.
const MAX_FRAMES: usize = 1_000;
/// Entries read per store request.
const PAGE: usize = 100;
/// How often, and how long apart, a replay reads again when numbers are missing.
const GAP_WAITS: (u32, std::time::Duration) = (10, std::time::Duration::from_millis(100));

/// The route, resolved like the app's own (middleware runs around it).
pub(crate) static ROUTE: RouteInfo = RouteInfo {
    key: RouteKey::REPLAY,
    kind: RouteKind::Message,
    reply: false,
    message_schema: no_schema,
    reply_schema: no_schema,
    call,
};

fn no_schema() -> Option<Value> {
    None
}

fn call(ctx: &mut WsContext) -> BoxFuture<'_, HandlerResult> {
    Box::pin(replay(ctx))
}

/// What a replay request asks.
#[derive(Deserialize)]
struct Request {
    since: Since,
}

/// Where each room's replay starts: one number for all the caller's rooms, or one per room.
#[derive(Deserialize)]
#[serde(untagged)]
enum Since {
    All(u64),
    Rooms(BTreeMap<String, u64>),
}

/// What one room's replay did.
#[derive(Default)]
struct Replayed {
    since: u64,
    last: u64,
    replayed: usize,
    missed: bool,
    more: bool,
}

async fn replay(ctx: &mut WsContext) -> HandlerResult {
    let request: Request = serde_json::from_str(ctx.body().unwrap_or_default()).map_err(|err| {
        WsError::bad_request(format!(
            "a replay names where to start: {{\"since\": {{\"room\": N}}}} or {{\"since\": N}} ({err})"
        ))
    })?;
    let rooms = match ctx.connection().await? {
        Some(connection) => connection.rooms.clone(),
        None => return Err(WsError::not_found("this connection is not stored")),
    };
    let since: Vec<(String, u64)> = match request.since {
        Since::All(n) => rooms.into_iter().map(|room| (room, n)).collect(),
        Since::Rooms(asked) => asked
            .into_iter()
            .filter(|(room, _)| rooms.contains(room))
            .collect(),
    };
    let cutoff = ctx.sends_cutoff();
    let mut budget = MAX_FRAMES;
    let mut report = serde_json::Map::new();
    for (room, since) in since {
        let done = replay_room(ctx, &room, since, cutoff, &mut budget).await?;
        report.insert(
            room,
            json!({
                "since": done.since,
                "last": done.last,
                "replayed": done.replayed,
                "missed": done.missed,
                "more": done.more,
            }),
        );
    }
    // Posted after the replayed frames, with the request's `requestId`, as any reply.
    let frame = json!({"type": "replayed", "rooms": report});
    Ok(Some(Reply::text(frame.to_string())))
}

/// Sends `room`'s entries after `since`, in order, until none is left, the budget is spent or
/// the cutoff comes.
async fn replay_room(
    ctx: &WsContext,
    room: &str,
    since: u64,
    cutoff: Instant,
    budget: &mut usize,
) -> Result<Replayed, WsError> {
    let mut done = Replayed {
        since,
        ..Replayed::default()
    };
    let mut after = since;
    let mut first = true;
    let mut waits = 0;
    loop {
        if *budget == 0 {
            // Another room spent it: the client asks again.
            done.more = true;
            return Ok(done);
        }
        let page = ctx.store().history(room, after, PAGE.min(*budget)).await?;
        done.last = page.last;
        if first && since > page.last {
            // The room's numbering started again: everything kept is new to the client.
            done.missed = true;
            after = 0;
            first = false;
            continue;
        }
        first = false;
        // Numbers missing right after `after`: expired or never kept, or numbered by a
        // broadcast still saving its entry (which then reaches the client live). Read again
        // a few times before saying they are gone.
        let gap = match page.entries.first() {
            Some(entry) => entry.seq > after + 1,
            None => after < page.last,
        };
        if gap && waits < GAP_WAITS.0 {
            waits += 1;
            tokio::time::sleep(GAP_WAITS.1).await;
            continue;
        }
        done.missed |= gap;
        if page.entries.is_empty() {
            return Ok(done);
        }
        for entry in page.entries {
            if entry.seq > after + 1 {
                done.missed = true;
            }
            if *budget == 0 || Instant::now() >= cutoff {
                done.more = true;
                return Ok(done);
            }
            ctx.send_raw(ctx.connection_id(), entry.frame.as_bytes())
                .await?;
            *budget -= 1;
            done.replayed += 1;
            after = entry.seq;
        }
        if after >= done.last {
            // Everything numbered so far was sent: no read more.
            return Ok(done);
        }
        if *budget == 0 {
            done.more = true;
            return Ok(done);
        }
    }
}
