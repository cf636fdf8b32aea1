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
//!
//! Before the counted events, a warm pass of 100,000 (10,000 under `cargo test`), then the
//! peak is reset (`5` to `/proc/self/clear_refs`). The pass brings the process to where it runs
//! from then on: every code path the soak takes has been mapped from the page cache (most of
//! the RSS is the binary's code, and how much of it the kernel maps in the first few thousand
//! events moves from run to run), and the Management API client's connection pool has grown to
//! what the broadcasts need (hyper opens a connection when a request finds none idle, and
//! keeps it: 11 connections after 10,000 events here, 17 from about 60,000 on, each with its
//! buffers on both ends, 350 KiB of heap in all). Each progress line says what the RSS is made
//! of (anonymous memory, where a leak would show, and file pages), the heap in use (bytes
//! allocated and not freed, counted by this binary's allocator: a leak grows it, fragmentation
//! does not) and the sockets open.

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

/// The system allocator, counting the bytes allocated and not yet freed: what the program
/// holds, whatever the allocator keeps besides (a leak grows this; fragmentation does not).
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; only a counter is kept beside.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { std::alloc::System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

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

/// Sockets this process has open (the sink's and the Management API client's connections).
fn sockets() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |fds| {
        fds.filter_map(Result::ok)
            .filter(|fd| {
                std::fs::read_link(fd.path())
                    .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"))
            })
            .count()
    })
}

/// What the RSS is made of now: the heap and other anonymous memory (where a leak would show)
/// and the binary's pages mapped from the page cache (which move with the cache, not the app);
/// then the heap in use and the sockets open.
fn rss_parts() -> String {
    format!(
        "anonymous {} KiB, file {} KiB; heap in use {} KiB; sockets {}",
        status_kb("RssAnon:"),
        status_kb("RssFile:"),
        LIVE.load(Ordering::Relaxed) / 1024,
        sockets()
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

/// Resets this process's peak RSS (`VmHWM`) to its current RSS; false if the kernel refused.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Rooms at once, and connections per room.
const ROOMS: usize = 20;
const MEMBERS: usize = 8;

/// One generation: ROOMS rooms of MEMBERS new connections each; every member says two things
/// to its room and asks once who it is; then every member leaves. Returns the events it ran
/// (5 a member).
async fn generation_of_events(
    service: &lift_runtime::Service,
    host: &str,
    generation: usize,
) -> usize {
    let mut events = 0usize;
    let mut run = |event: Value| {
        events += 1;
        let request = format!("soak-{generation}-{events}");
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
        run(event(host, id, "$connect", None, room)).await;
    }
    for round in 0..2 {
        for (id, room) in &ids {
            let body = json!({"action": "say", "room": room, "text": format!("round {round}")});
            run(event(host, id, "say", Some(body.to_string()), room)).await;
        }
    }
    for (id, room) in &ids {
        let body = json!({"action": "whoami"}).to_string();
        run(event(host, id, "whoami", Some(body), room)).await;
    }
    for (id, room) in &ids {
        run(event(host, id, "$disconnect", None, room)).await;
    }
    events
}

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
    let mut generation = 0usize;
    // The warm pass, not counted.
    let warm_events = if lift_benches::benchmarking() {
        100_000
    } else {
        baseline_at
    };
    let mut warm = 0usize;
    while warm < warm_events {
        warm += generation_of_events(&service, &host, generation).await;
        generation += 1;
    }
    eprintln!(
        "warm pass: {warm} events, peak RSS {} KiB ({})",
        peak_rss_kb(),
        rss_parts()
    );
    if !reset_peak_rss() {
        eprintln!(
            "the peak RSS could not be reset (/proc/self/clear_refs): it includes the warm pass"
        );
    }
    let started = Instant::now();
    let mut events = 0usize;
    let mut baseline = None;
    while events < total {
        let ran = generation_of_events(&service, &host, generation).await;
        events += ran;
        generation += 1;
        if events / 100_000 != (events - ran) / 100_000 {
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
