//! Sessions that outlive connections: a `$connect` with `?session=ID` whose handler accepted
//! the connection resumes the session's rooms and metadata (see the README's "Sessions" and
//! [`Session`]). The store keeps a session's rooms when its connection is removed (it *parks*
//! it); this file is what `$connect` does with them.

use std::time::{Duration, SystemTime};

use crate::connect::Connecting;
use crate::error::WsError;
use crate::store::{Connection, ConnectionStore, Session};

/// The query parameter a client names its session with.
pub(crate) const PARAM: &str = "session";

/// How often, and how long apart, a resume reads a session whose connection was removed by
/// another invocation that has not parked it yet.
const PARK_WAIT: (u32, Duration) = (10, Duration::from_millis(20));

/// The session id of a `$connect`, when sessions are on and the client sent one: 16 to 128
/// URL-safe characters (`A-Z a-z 0-9 - _`), else a `400` error.
pub(crate) fn id_of(query: Option<&str>) -> Result<Option<String>, WsError> {
    let Some(id) = query else { return Ok(None) };
    let url_safe = id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !(16..=128).contains(&id.len()) || !url_safe {
        return Err(WsError::bad_request(
            "a session id is 16 to 128 URL-safe characters (A-Z, a-z, 0-9, - and _)",
        ));
    }
    Ok(Some(id.to_owned()))
}

/// What a `$connect` found of its session: its earlier connection (`me` excluded) to close
/// if still open.
#[derive(Debug, Default)]
pub(crate) struct Resumed {
    /// The session's earlier connection, taken over: the caller closes it.
    pub(crate) previous: Option<String>,
}

/// Resumes session `id` for the connection `me`, which the `$connect` handler accepted: the
/// session's rooms and metadata go to `connecting`. A session of another owner (user, or
/// token subject) is refused with `403 session_forbidden`, changing nothing. A session whose
/// connection is still there is taken over: that connection is removed (which parks the
/// session), and the caller closes it. An unknown or expired session starts fresh.
pub(crate) async fn resume(
    store: &dyn ConnectionStore,
    connecting: &mut Connecting,
    id: &str,
    me: &str,
) -> Result<Resumed, WsError> {
    let Some(mut session) = store.session(id).await? else {
        return Ok(Resumed::default());
    };
    if session.user != connecting.owner() {
        return Err(WsError::new(
            403,
            "session_forbidden",
            "this session belongs to another user: connect with a new session id",
        ));
    }
    let mut resumed = Resumed::default();
    if !session.parked && session.connection_id != me {
        let previous = session.connection_id.clone();
        store.delete(&previous).await?;
        resumed.previous = Some(previous.clone());
        // Parked by that delete, or by the `$disconnect` that removed the connection first
        // (which parks it right after): read it again until it is.
        let (tries, pause) = PARK_WAIT;
        for attempt in 0..tries {
            match store.session(id).await? {
                Some(fresh) if fresh.parked || fresh.connection_id != previous => {
                    session = fresh;
                    break;
                }
                Some(_) if attempt + 1 < tries => tokio::time::sleep(pause).await,
                Some(_) => {
                    tracing::warn!(
                        session = id,
                        "the session's last connection is gone but was never parked: resuming the rooms it had at its $connect"
                    );
                }
                None => return Ok(resumed),
            }
        }
    }
    tracing::debug!(session = id, rooms = session.rooms.len(), "session resumed");
    connecting.resume(session.rooms, session.metadata);
    Ok(resumed)
}

/// The session record of a connection just saved: it names the connection, and keeps its
/// rooms and metadata as they are now until its connection parks it.
pub(crate) fn record(
    id: String,
    connection: &Connection,
    owner: Option<String>,
    ttl: Duration,
) -> Session {
    Session {
        id,
        user: owner,
        connection_id: connection.id.clone(),
        rooms: connection.rooms.clone(),
        metadata: connection.metadata.clone(),
        parked: false,
        expires_at: SystemTime::now() + ttl,
    }
}

#[cfg(test)]
mod tests {
    use super::id_of;

    #[test]
    fn session_ids_are_16_to_128_url_safe_characters() {
        assert_eq!(id_of(None).unwrap(), None);
        assert!(id_of(Some("abcdefghijklmnop")).unwrap().is_some());
        assert!(id_of(Some(&"a-_9".repeat(32))).unwrap().is_some());
        for bad in [
            "short",
            "abcdefghijklmno",
            "abcdefghijklmnop/",
            "abc def ghijklmnop",
        ] {
            let err = id_of(Some(bad)).unwrap_err();
            assert_eq!(err.status(), 400, "{bad}");
        }
        assert!(id_of(Some(&"a".repeat(129))).is_err());
    }
}
