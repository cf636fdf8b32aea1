//! [`Room`] and [`User`]: broadcasts to a room's members, read page by page while the sends
//! are under way, and to a user's every connection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use futures_util::{Stream, StreamExt};
use serde::Serialize;

use super::send::{send_stream, BroadcastReport};
use super::{store_failure, Outbound};
use crate::error::SendError;
use crate::store::{Member, Pages};

/// A room of the caller's app, from [`WsContext::room`](crate::WsContext::room).
#[derive(Debug)]
pub struct Room<'a> {
    out: &'a Outbound,
    name: &'a str,
    except: Option<&'a str>,
    /// Numbered and kept when the app has history (the runtime's own announcements are not).
    numbered: bool,
}

impl<'a> Room<'a> {
    /// The room `name`, reached through `out`.
    pub(crate) fn new(out: &'a Outbound, name: &'a str) -> Self {
        Room {
            out,
            name,
            except: None,
            numbered: true,
        }
    }

    /// Sent as it is, neither numbered nor kept for replay: the runtime's own announcements.
    pub(crate) fn unnumbered(mut self) -> Self {
        self.numbered = false;
        self
    }

    /// Leaves one connection out of the broadcast, typically the sender's:
    /// `ctx.room("lobby").except(ctx.connection_id()).broadcast(&msg)`.
    pub fn except(mut self, connection_id: &'a str) -> Self {
        self.except = Some(connection_id);
        self
    }

    /// The users present in the room, sorted: those with a connection in it, each once (with
    /// [`Settings::presence`](crate::Settings::presence); without it, none are kept). One
    /// store read (a `Query` of the room's users on DynamoDB).
    pub async fn users(&self) -> Result<Vec<String>, crate::error::StoreError> {
        self.out.store.presence_users(self.name).await
    }

    /// Sends `message` to every member (see [`WsContext::broadcast`](crate::WsContext::broadcast)).
    /// Members are read a page at a time while the sends are under way, so up to the configured
    /// concurrency is in flight however small the store's pages. No page is read past the
    /// deadline (less the headroom): the report's [`unread`](BroadcastReport::unread) then says
    /// the room may have had more members. If a page cannot be read, the sends already started
    /// are finished, connections found gone are removed, and the error is
    /// [`SendError::Store`].
    pub async fn broadcast<T: Serialize + ?Sized>(
        &self,
        message: &T,
    ) -> Result<BroadcastReport, SendError> {
        let out = self.out;
        let mut data = out.serialise(message)?;
        if let Some(keep) = out.history.filter(|_| self.numbered) {
            data = Box::pin(super::numbered::numbered(
                &*out.store,
                self.name,
                data,
                keep,
            ))
            .await;
        }
        if let Some(fanout) = &out.fanout {
            let started = Instant::now();
            // Boxed: the hand-off's state is large and rare, and would otherwise be part of
            // every room broadcast's future.
            let report = Box::pin(crate::fanout::broadcast(crate::fanout::Handoff {
                api: &*out.api,
                store: &*out.store,
                config: &out.config,
                deadline: out.deadline,
                fanout,
                room: self.name,
                except: self.except,
                data: &data,
            }))
            .await?;
            Box::pin(out.settle(&report, started, Some(self.name))).await;
            return Ok(report);
        }
        // No page is read past the cutoff: a room of thousands must not hold the function past
        // its deadline with store requests for members nobody will be sent to.
        let unread = AtomicBool::new(false);
        // With presence, the users of members found gone leave it.
        let users = out.keeps_presence().then(Mutex::default);
        let members = MemberIds {
            pages: out.store.members(self.name),
            cutoff: out.config.cutoff(out.deadline),
            cut: &unread,
            except: self.except,
            users: users.as_ref(),
        };
        let started = Instant::now();
        // Boxed, as the other steps here: each would otherwise be part of the future of every
        // handler that broadcasts, which its route boxes; past a kilobyte, that allocation
        // takes the allocator's slow path (and consolidates its free lists) on every event.
        let (mut report, failure) = Box::pin(send_stream(
            &*out.api,
            members,
            &data,
            out.deadline,
            &out.config,
        ))
        .await?;
        report.unread = unread.load(Ordering::Relaxed);
        // Connections found gone are removed even when a later page could not be read.
        let removed = Box::pin(out.settle(&report, started, Some(self.name))).await;
        if let Some(users) = users.filter(|_| !removed.is_empty()) {
            let users: HashMap<String, String> = users
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner)
                .into_iter()
                .collect();
            for id in &removed {
                if let Some(user) = users.get(id) {
                    Box::pin(out.absent(self.name, user, id)).await;
                }
            }
        }
        match failure {
            Some(err) => Err(err),
            None => Ok(report),
        }
    }
}

/// The connection ids of a room's members, without `except`, a page at a time; no page read
/// is started past `cutoff`, and `cut` notes that the reading ended there. A page the store
/// cannot read is the stream's error.
struct MemberIds<'a> {
    pages: Pages<'a, Member>,
    cutoff: Instant,
    cut: &'a AtomicBool,
    except: Option<&'a str>,
    /// With presence: each member's connection id and user (looked up only for the few found
    /// gone, so kept in a list: a map would hash every member of every broadcast).
    users: Option<&'a Mutex<Vec<(String, String)>>>,
}

impl Stream for MemberIds<'_> {
    type Item = Result<Vec<String>, SendError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        if self.cut.load(Ordering::Relaxed) || Instant::now() >= self.cutoff {
            self.cut.store(true, Ordering::Relaxed);
            return std::task::Poll::Ready(None);
        }
        let except = self.except;
        let users = self.users;
        self.pages.poll_next_unpin(cx).map(|page| {
            page.map(|page| {
                let members = page.map_err(store_failure)?;
                let mut users =
                    users.map(|users| users.lock().unwrap_or_else(PoisonError::into_inner));
                Ok(members
                    .into_iter()
                    .filter(|member| Some(member.connection_id.as_str()) != except)
                    .map(|member| {
                        if let (Some(users), Some(user)) = (users.as_mut(), member.user) {
                            users.push((member.connection_id.clone(), user));
                        }
                        member.connection_id
                    })
                    .collect())
            })
        })
    }
}

/// A user of the caller's app, from [`WsContext::user`](crate::WsContext::user).
#[derive(Debug)]
pub struct User<'a> {
    out: &'a Outbound,
    user: &'a str,
}

impl<'a> User<'a> {
    /// The user `user`, reached through `out`.
    pub(crate) fn new(out: &'a Outbound, user: &'a str) -> Self {
        User { out, user }
    }

    /// Sends `message` to every live connection of the user (see
    /// [`WsContext::broadcast`](crate::WsContext::broadcast)).
    pub async fn send<T: Serialize + ?Sized>(
        &self,
        message: &T,
    ) -> Result<BroadcastReport, SendError> {
        let connections = self
            .out
            .store
            .user_connections(self.user)
            .await
            .map_err(store_failure)?;
        self.out
            .broadcast(connections.iter().map(|conn| conn.id.as_str()), message)
            .await
    }
}
