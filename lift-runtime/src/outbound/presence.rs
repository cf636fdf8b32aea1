//! Presence ([`Settings::presence`](crate::Settings::presence)): a room's members told when a
//! user's first connection joins it and when their last one leaves it, with the frame
//! `{"type":"presence","room":R,"user":U,"state":"joined"|"left"}`, sent as a room broadcast.

use std::time::SystemTime;

use super::room::Room;
use super::Outbound;

/// The frame's `type` (reserved: `#[ws_push]` refuses it).
pub(crate) const TYPE: &str = "presence";

impl Outbound {
    /// Whether the app keeps presence.
    pub(crate) fn keeps_presence(&self) -> bool {
        self.presence
    }

    /// `user` is in `room` through `connection_id` until `expires_at`: when it is the user's
    /// first connection there, the room's other members are told `joined`. A store failure is
    /// logged (the join itself stands).
    pub(crate) async fn present(
        &self,
        room: &str,
        user: &str,
        connection_id: &str,
        expires_at: SystemTime,
    ) {
        match self
            .store
            .presence_join(room, user, connection_id, expires_at)
            .await
        {
            Ok(true) => {
                self.announce(room, user, "joined", Some(connection_id))
                    .await
            }
            Ok(false) => {}
            Err(err) => tracing::warn!(room, error = %err, "could not note the user's presence"),
        }
    }

    /// `connection_id` of `user` is no longer in `room`: when it was the user's last connection
    /// there, the room's members are told `left`.
    pub(crate) async fn absent(&self, room: &str, user: &str, connection_id: &str) {
        match self.store.presence_leave(room, user, connection_id).await {
            Ok(true) => self.announce(room, user, "left", None).await,
            Ok(false) => {}
            Err(err) => tracing::warn!(room, error = %err, "could not note the user's absence"),
        }
    }

    /// Users whose every connection in a room expired without a `$disconnect`: forgotten, and
    /// their rooms told `left`. What the scheduled sweep runs (and the emulator, every second).
    pub(crate) async fn sweep_presence(&self) {
        match self.store.presence_expire(SystemTime::now()).await {
            Ok(left) => {
                for (room, user) in left {
                    tracing::info!(room, user, "presence expired: the user left");
                    self.announce(&room, &user, "left", None).await;
                }
            }
            Err(err) => tracing::warn!(error = %err, "could not sweep expired presence"),
        }
    }

    /// The frame to `room`'s members (but `except`).
    async fn announce(&self, room: &str, user: &str, state: &str, except: Option<&str>) {
        let frame = serde_json::json!({"type": TYPE, "room": room, "user": user, "state": state});
        // Not numbered: who is present now is what matters, not a replay of who came and went.
        let mut to = Room::new(self, room).unnumbered();
        if let Some(except) = except {
            to = to.except(except);
        }
        // Boxed: an announcement's broadcast may find connections gone, whose leaving is
        // announced in turn.
        if let Err(err) = Box::pin(to.broadcast(&frame)).await {
            tracing::warn!(room, state, error = %err, "could not announce presence");
        }
    }
}
