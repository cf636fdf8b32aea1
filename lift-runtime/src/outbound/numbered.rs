//! Room history ([`Settings::history`](crate::Settings::history)): a room broadcast numbered in
//! its room and kept for replay. The frame gains `"room"` and `"seq"` at its end (the app's own
//! fields keep their order); what cannot be numbered (a message that is not a JSON object, or
//! that has a `seq` of its own) is sent as it is, and a store that fails leaves the broadcast
//! live-only: a missing history never stops a message.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::store::{ConnectionStore, HistoryEntry};

/// The keys of a message [`number`] looks at, read in one pass (the others are skipped).
#[derive(serde::Deserialize)]
struct Keys<'a> {
    /// Whether it has a `seq` (of any value, `null` included).
    #[serde(default, deserialize_with = "present")]
    seq: bool,
    /// Its `room`, when it has one (of any value).
    #[serde(default, deserialize_with = "value", borrow)]
    room: Option<RoomValue<'a>>,
}

/// A `room` value: the string, or anything else (which names no room).
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum RoomValue<'a> {
    Name(#[serde(borrow)] Cow<'a, str>),
    Other(IgnoredAny),
}

fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(deserializer).map(|_| true)
}

fn value<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<RoomValue<'de>>, D::Error> {
    RoomValue::deserialize(deserializer).map(Some)
}

/// `data` (a serialised message) numbered `seq` in `room`, when it is a JSON object without a
/// `seq` of its own (and a `room`, if it has one, naming this room).
pub(crate) fn number(data: &[u8], room: &str, seq: u64) -> Option<Vec<u8>> {
    if data.first() != Some(&b'{') || data.last() != Some(&b'}') {
        return None;
    }
    let keys: Keys<'_> = serde_json::from_slice(data).ok()?;
    if keys.seq {
        return None;
    }
    let mut tail = String::new();
    match keys.room {
        Some(RoomValue::Name(named)) if named == room => {}
        Some(_) => return None,
        None => {
            tail.push_str("\"room\":");
            tail.push_str(&serde_json::to_string(room).ok()?);
            tail.push(',');
        }
    }
    tail.push_str(&format!("\"seq\":{seq}}}"));
    let mut framed = data[..data.len() - 1].to_vec();
    let empty = data[1..data.len() - 1].iter().all(u8::is_ascii_whitespace);
    if !empty {
        framed.push(b',');
    }
    framed.extend_from_slice(tail.as_bytes());
    Some(framed)
}

/// Numbers and keeps a broadcast of `room` for `keep`: the frame to send (the message as it is
/// when it cannot be numbered, or the store failed to number it).
pub(crate) async fn numbered(
    store: &dyn ConnectionStore,
    room: &str,
    data: bytes::Bytes,
    keep: Duration,
) -> bytes::Bytes {
    if data.first() != Some(&b'{') {
        tracing::debug!(
            room,
            "a broadcast that is not a JSON object is not kept in history"
        );
        return data;
    }
    let seq = match store.next_seq(room).await {
        Ok(seq) => seq,
        Err(err) => {
            tracing::warn!(room, error = %err, "could not number a broadcast: sent without history");
            return data;
        }
    };
    let Some(framed) = number(&data, room, seq) else {
        tracing::warn!(
            room,
            "a broadcast with a `seq` of its own, or a `room` naming another room, is not kept in history"
        );
        return data;
    };
    let entry = HistoryEntry {
        seq,
        frame: String::from_utf8_lossy(&framed).into_owned(),
        expires_at: SystemTime::now() + keep,
    };
    if let Err(err) = store.save_history(room, &entry).await {
        tracing::warn!(room, seq, error = %err, "could not keep a broadcast in history: a replay will miss it");
    }
    bytes::Bytes::from(framed)
}

#[cfg(test)]
mod tests {
    use super::number;

    fn numbered(data: &str) -> Option<String> {
        number(data.as_bytes(), "lobby", 7).map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn objects_gain_room_and_seq_at_their_end() {
        assert_eq!(
            numbered(r#"{"type":"message","text":"hi"}"#).unwrap(),
            r#"{"type":"message","text":"hi","room":"lobby","seq":7}"#
        );
        assert_eq!(numbered("{}").unwrap(), r#"{"room":"lobby","seq":7}"#);
        assert_eq!(numbered("{ }").unwrap(), r#"{ "room":"lobby","seq":7}"#);
        assert_eq!(
            numbered(r#"{"room":"lob\u0062y"}"#).unwrap(),
            r#"{"room":"lob\u0062y","seq":7}"#
        );
        assert_eq!(
            numbered(r#"{"room":"lobby","x":1}"#).unwrap(),
            r#"{"room":"lobby","x":1,"seq":7}"#
        );
        let escaped = number(br#"{"a":1}"#, "l\"o", 1).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&escaped).unwrap();
        assert_eq!(value["room"], "l\"o");
    }

    #[test]
    fn what_cannot_carry_a_number_is_left_alone() {
        for data in [
            r#""text""#,
            "[1,2]",
            "3",
            r#"{"seq":1}"#,
            r#"{"room":"elsewhere"}"#,
            r#"{"room":7}"#,
            r#"{"room":null}"#,
            r#"{"seq":null}"#,
            "{not json}",
        ] {
            assert_eq!(numbered(data), None, "{data}");
        }
    }
}
