//! The emulator's inspector, at `/_lift`: live connections (user, rooms, age), each room's
//! members, and the last events and Management API calls (route key, connection, status or
//! error code, duration), refreshed every second. The page polls `/_lift/state`;
//! `POST /_lift/close/{id}` ends a connection as API Gateway or a lost network would.

use std::collections::BTreeMap;
use std::sync::PoisonError;
use std::time::SystemTime;

use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use super::journal::{CallEntry, EventEntry};
use super::state::{Backend, Shared};

/// `GET /_lift`: the page.
pub(super) async fn page() -> Html<&'static str> {
    Html(include_str!("inspector.html"))
}

/// `POST /_lift/close/{id}?code=N`: ends a connection as API Gateway or a network would, to
/// try what a client does then: `code=1001` (the default) closes it with "Going away", as API
/// Gateway does after 2 hours or 10 idle minutes; `code=1006` drops it without a close frame,
/// as a lost network does; any other code closes it with that code. `$disconnect` follows as
/// usual. An unknown connection is `404`.
pub(super) async fn close(
    state: Shared,
    axum::extract::Path(id): axum::extract::Path<String>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    use axum::http::StatusCode;
    let code = match query.get("code").map(|code| code.parse::<u16>()) {
        None => 1001,
        Some(Ok(code)) if code == 1006 || (1000..5000).contains(&code) => code,
        Some(_) => {
            return (
                StatusCode::BAD_REQUEST,
                "code is a close code, 1000 to 4999",
            )
                .into_response()
        }
    };
    let Some(conn) = state.get(&id) else {
        return (StatusCode::NOT_FOUND, format!("no connection {id}")).into_response();
    };
    match code {
        1006 => {
            let _ = conn.tx.send(super::state::ToClient::Drop);
        }
        1001 => conn.close(1001, "Going away"),
        code => conn.close(code, ""),
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /_lift/state`: what the page shows, as JSON.
pub(super) async fn state(state: Shared) -> Response {
    let now = SystemTime::now();
    let open: Vec<(String, SystemTime, String)> = state
        .lock()
        .iter()
        .map(|(id, conn)| (id.clone(), conn.connected_at, conn.source_ip.clone()))
        .collect();
    // The functions' store is theirs: without it, connections are listed without rooms.
    let listed = match &state.backend {
        Backend::Service(service) => service.store().list().await,
        Backend::Functions(_) => Ok(Vec::new()),
    };
    let stored = match listed {
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
