//! What the emulator's inspector (`/_lift`, see `inspector.rs`) shows of the past: the last
//! events the service handled and the last Management API calls, newest last.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde_json::Value;

/// Entries kept of each kind.
const KEPT: usize = 300;

/// What the inspector shows of one event the service handled.
#[derive(Clone, Debug, Serialize)]
pub(super) struct EventEntry {
    /// Milliseconds since the epoch.
    at: u64,
    route: String,
    connection: String,
    status: u16,
    /// The error code of the error frame the response carried, if any.
    code: Option<String>,
    duration_ms: f64,
}

/// What the inspector shows of one Management API call.
#[derive(Clone, Debug, Serialize)]
pub(super) struct CallEntry {
    at: u64,
    method: &'static str,
    connection: String,
    status: u16,
    /// The error code when the message sent was an error frame.
    code: Option<String>,
    bytes: usize,
}

/// The last events and calls, newest last.
#[derive(Default)]
pub(super) struct Journal {
    pub(super) events: Mutex<VecDeque<EventEntry>>,
    pub(super) calls: Mutex<VecDeque<CallEntry>>,
}

impl Journal {
    pub(super) fn event(
        &self,
        route: &str,
        connection: &str,
        status: u16,
        body: Option<&str>,
        took: Duration,
    ) {
        push(
            &self.events,
            EventEntry {
                at: now_ms(),
                route: route.to_owned(),
                connection: connection.to_owned(),
                status,
                code: body.and_then(error_code),
                duration_ms: took.as_secs_f64() * 1e3,
            },
        );
    }

    pub(super) fn call(&self, method: &'static str, connection: &str, status: u16, data: &[u8]) {
        push(
            &self.calls,
            CallEntry {
                at: now_ms(),
                method,
                connection: connection.to_owned(),
                status,
                code: std::str::from_utf8(data).ok().and_then(error_code),
                bytes: data.len(),
            },
        );
    }
}

fn push<T>(list: &Mutex<VecDeque<T>>, entry: T) {
    let mut list = list.lock().unwrap_or_else(PoisonError::into_inner);
    list.push_back(entry);
    while list.len() > KEPT {
        list.pop_front();
    }
}

/// The `code` of an error frame (`{"type":"error","code":...}`).
fn error_code(text: &str) -> Option<String> {
    let value: Value = serde_json::from_str(text).ok()?;
    if value.get("type")? != "error" {
        return None;
    }
    Some(value.get("code")?.as_str()?.to_owned())
}

fn now_ms() -> u64 {
    crate::fanout::epoch_ms(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_keeps_the_last_entries_and_reads_error_codes() {
        let journal = Journal::default();
        for n in 0..KEPT + 5 {
            journal.call("POST", &n.to_string(), 200, b"{}");
        }
        let calls = journal.calls.lock().unwrap();
        assert_eq!(calls.len(), KEPT);
        assert_eq!(calls.front().unwrap().connection, "5");
        drop(calls);
        journal.event(
            "say",
            "a=",
            200,
            Some(r#"{"type":"error","code":"invalid_body","message":"x"}"#),
            Duration::from_millis(2),
        );
        let events = journal.events.lock().unwrap();
        assert_eq!(events[0].code.as_deref(), Some("invalid_body"));
    }
}
