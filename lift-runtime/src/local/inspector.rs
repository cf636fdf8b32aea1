//! The emulator's inspector, at `/_lift`: live connections (user, rooms, age), each room's
//! members, and the last events and Management API calls (route key, connection, status or
//! error code, duration), refreshed every second. The page polls `/_lift/state`.

use std::collections::BTreeMap;
use std::sync::PoisonError;
use std::time::SystemTime;

use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use super::journal::{CallEntry, EventEntry};
use super::state::Shared;

/// `GET /_lift`: the page.
pub(super) async fn page() -> Html<&'static str> {
    Html(include_str!("inspector.html"))
}

/// `GET /_lift/state`: what the page shows, as JSON.
pub(super) async fn state(state: Shared) -> Response {
    let now = SystemTime::now();
    let open: Vec<(String, SystemTime, String)> = state
        .lock()
        .iter()
        .map(|(id, conn)| (id.clone(), conn.connected_at, conn.source_ip.clone()))
        .collect();
    let stored = match state.service.store().list().await {
        Ok(list) => list,
        Err(err) => {
            return json_response(json!({ "error": format!("the store could not be read: {err}") }))
        }
    };
    let mut rooms: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut connections = Vec::new();
    for (id, connected_at, source_ip) in open {
        let record = stored.iter().find(|conn| conn.id == id);
        if let Some(record) = record {
            let member = match &record.user {
                Some(user) => format!("{user} ({id})"),
                None => id.clone(),
            };
            for room in &record.rooms {
                rooms.entry(room.clone()).or_default().push(member.clone());
            }
        }
        connections.push(json!({
            "id": id,
            "user": record.and_then(|r| r.user.clone()),
            "rooms": record.map(|r| r.rooms.iter().cloned().collect::<Vec<_>>()).unwrap_or_default(),
            "age_s": now.duration_since(connected_at).map_or(0, |d| d.as_secs()),
            "source_ip": source_ip,
            "stored": record.is_some(),
        }));
    }
    connections.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    let events: Vec<EventEntry> = state
        .journal
        .events
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .cloned()
        .collect();
    let calls: Vec<CallEntry> = state
        .journal
        .calls
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .cloned()
        .collect();
    json_response(json!({
        "connections": connections,
        "rooms": rooms,
        "events": events,
        "calls": calls,
    }))
}

fn json_response(value: serde_json::Value) -> Response {
    (
        [
            ("content-type", "application/json"),
            ("cache-control", "no-store"),
        ],
        value.to_string(),
    )
        .into_response()
}
