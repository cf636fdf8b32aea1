//! A million events in one process, through the Lambda path (each event handed to the
//! `Service` as `lambda_runtime` hands it, one after another as Lambda does): connections
//! arrive, join rooms, talk (each message a broadcast to its room through the Management API
//! client, over HTTP to a local sink), and leave. The peak RSS after 10,000 events is the
//! baseline; after 1,000,000 it must not have grown: whatever a connection leaves behind once
//! it is gone (a record, a counter, a cached id, a pooled socket) shows here.
//!
//! ```sh
//! cargo bench -p lift-benches --bench soak
//! LIFT_BENCH_SOAK_EVENTS=200000 cargo bench -p lift-benches --bench soak   # quicker
//! ```
//!
//! It ends with one line, exactly: `summary soak: rss_1m/rss_10k=R events=N` (peak RSS,
//! `VmHWM`, after all the events over after the first 10,000; `events` is how many ran).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lift_runtime::store::MemoryStore;
use lift_runtime::App;
use serde_json::{json, Value};

#[lift_runtime::ws_app]
mod town {
    use lift_runtime::prelude::*;

    /// `?room=R`: joins its room.
    #[ws_connect]
    async fn connect(ctx: &mut WsContext) -> WsResult {
        let room = ctx.query("room").unwrap_or("lobby").to_owned();
        ctx.set_user(format!("user-{}", ctx.connection_id()));
        ctx.join(&room).await?;
        Ok(())
    }

    /// `{"action":"say","room":R,"text":T}`: to everyone in the room.
    #[ws_route("say")]
    async fn say(ctx: &WsContext, Json(message): Json<serde_json::Value>) -> WsResult {
        let room = message["room"].as_str().unwrap_or("lobby");
        ctx.room(room).broadcast(&message).await?;
        Ok(())
    }

    /// `{"action":"whoami"}`: answered on the connection.
    #[ws_route("whoami", reply)]
    async fn whoami(ctx: &WsContext) -> WsResult<Reply> {
        Ok(Reply::text(ctx.connection_id().to_owned()))
    }
}

/// Peak resident set size of this process so far, KiB (`VmHWM`).
fn peak_rss_kb() -> u64 {
    status_kb("VmHWM:")
}

/// A `/proc/self/status` figure in KiB (`VmHWM:`, `RssAnon:`, `RssFile:`), 0 if unread.
fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix(field)?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .ok()
            })
        })
        .unwrap_or(0)
}

/// What the RSS is made of now: the heap and other anonymous memory (where a leak would show)
/// and the binary's pages mapped from the page cache (which move with the cache, not the app).
fn rss_parts() -> String {
    format!(
        "anonymous {} KiB, file {} KiB",
        status_kb("RssAnon:"),
        status_kb("RssFile:")
    )
}

fn event(host: &str, id: &str, route: &str, body: Option<String>, room: &str) -> Value {
    json!({
        "requestContext": {
            "routeKey": route,
            "eventType": match route {
                "$connect" => "CONNECT",
                "$disconnect" => "DISCONNECT",
                _ => "MESSAGE",
            },
            "messageDirection": "IN", "stage": "soak", "connectedAt": 1_700_000_000_000_i64,
            "requestTimeEpoch": 1_700_000_000_000_i64, "requestId": format!("r-{id}"),
            "domainName": host, "connectionId": id, "apiId": "soak",
            "identity": {"sourceIp": "127.0.0.1"}
        },
        "queryStringParameters": {"room": room},
        "body": body,
        "isBase64Encoded": false
    })
}

/// A Management API that answers every post 200 and counts them (nothing kept per post).
async fn sink() -> (String, Arc<AtomicUsize>) {
    let posts = Arc::new(AtomicUsize::new(0));
    let counted = posts.clone();
    let routes = axum::Router::new().route(
        "/{stage}/@connections/{id}",
        axum::routing::post(move || {
            counted.fetch_add(1, Ordering::Relaxed);
            async { "" }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, routes).await });
    (host, posts)
}

/// Rooms at once, and connections per room.
const ROOMS: usize = 20;
const MEMBERS: usize = 8;

#[tokio::main]
async fn main() {
    let total: usize = std::env::var("LIFT_BENCH_SOAK_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        // Under `cargo test --all-targets`, a few thousand: a check that it runs.
        .unwrap_or(if lift_benches::benchmarking() {
            1_000_000
        } else {
            2_000
        });
    let baseline_at = 10_000.min(total);
    let (host, posts) = sink().await;
    let service = App::new(town::router())
        .store(MemoryStore::new())
        .service()
        .await
        .expect("the app's service");
    let started = Instant::now();
    let mut events = 0usize;
    let mut baseline = None;
    let mut generation = 0usize;
    // Each generation: ROOMS rooms of MEMBERS new connections each; every member says two
    // things to its room and asks once who it is; then every member leaves. 4 events a member.
    while events < total {
        let mut run = |event: Value| {
            let service = &service;
            events += 1;
            let request = format!("soak-{events}");
            async move {
                let deadline = Some(Instant::now() + Duration::from_secs(30));
                let answer = lift_tests::invoke(service, event, &request, deadline).await;
                assert_eq!(answer.status_code, 200, "{answer:?}");
            }
        };
        let ids: Vec<(String, String)> = (0..ROOMS * MEMBERS)
            .map(|i| {
                (
                    format!("G{generation}C{i}="),
                    format!("room-{generation}-{}", i % ROOMS),
                )
            })
            .collect();
        for (id, room) in &ids {
            run(event(&host, id, "$connect", None, room)).await;
        }
        for round in 0..2 {
            for (id, room) in &ids {
                let body = json!({"action": "say", "room": room, "text": format!("round {round}")});
                run(event(&host, id, "say", Some(body.to_string()), room)).await;
            }
        }
        for (id, room) in &ids {
            let body = json!({"action": "whoami"}).to_string();
            run(event(&host, id, "whoami", Some(body), room)).await;
        }
        for (id, room) in &ids {
            run(event(&host, id, "$disconnect", None, room)).await;
        }
        generation += 1;
        if events / 100_000 != (events - ids.len() * 5) / 100_000 {
            eprintln!(
                "{events} events, {:.0} s, peak RSS {} KiB ({})",
                started.elapsed().as_secs_f64(),
                peak_rss_kb(),
                rss_parts()
            );
        }
        if baseline.is_none() && events >= baseline_at {
            baseline = Some((peak_rss_kb(), events));
            eprintln!(
                "after {events} events: peak RSS {} KiB ({})",
                peak_rss_kb(),
                rss_parts()
            );
        }
    }
    let (base_kb, base_events) = baseline.expect("a baseline");
    let peak = peak_rss_kb();
    eprintln!(
        "after {events} events ({} posts) in {:.1} s: peak RSS {peak} KiB (after {base_events}: {base_kb} KiB; now {})",
        posts.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
        rss_parts()
    );
    println!(
        "summary soak: rss_1m/rss_10k={:.2} events={events}",
        peak as f64 / base_kb as f64
    );
}
