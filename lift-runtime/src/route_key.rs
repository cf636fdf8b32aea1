//! Route keys, parsed once per event: the three routes API Gateway itself defines and the
//! message routes an app names. The literal keys live here and nowhere else in the runtime.

use std::fmt;

/// The route key of an event, as API Gateway selected it ([`WsContext::route`]).
///
/// ```
/// use lift_runtime::RouteKey;
///
/// assert_eq!(RouteKey::Connect.as_str(), "$connect");
/// assert_eq!(RouteKey::Message("sendMessage".into()).as_str(), "sendMessage");
/// assert_eq!(RouteKey::Default.to_string(), "$default");
/// ```
///
/// [`WsContext::route`]: crate::WsContext::route
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RouteKey {
    /// `$connect`: a client opens a connection.
    Connect,
    /// `$disconnect`: a connection closed.
    Disconnect,
    /// `$default`: a message no route key matched.
    Default,
    /// A message route, selected by its key.
    Message(String),
}

impl RouteKey {
    /// `$connect`.
    pub(crate) const CONNECT: &'static str = "$connect";
    /// `$disconnect`.
    pub(crate) const DISCONNECT: &'static str = "$disconnect";
    /// `$default`.
    pub(crate) const DEFAULT: &'static str = "$default";
    /// The built-in replay route of apps with room history ([`Settings::history`]): a client
    /// back from a reconnect asks it for the room messages it missed.
    ///
    /// [`Settings::history`]: crate::Settings::history
    pub(crate) const REPLAY: &'static str = "lift:replay";
    /// The built-in route of apps with [`JwtAuth`](crate::auth::JwtAuth): a client presents a
    /// fresh token on its open connection before the last one expires.
    pub(crate) const TOKEN: &'static str = "lift:token";

    /// Parses a key as API Gateway writes it in an event's `requestContext.routeKey`.
    pub(crate) fn parse(key: &str) -> RouteKey {
        match key {
            Self::CONNECT => RouteKey::Connect,
            Self::DISCONNECT => RouteKey::Disconnect,
            Self::DEFAULT => RouteKey::Default,
            other => RouteKey::Message(other.to_owned()),
        }
    }

    /// The key as API Gateway writes it.
    pub fn as_str(&self) -> &str {
        match self {
            RouteKey::Connect => Self::CONNECT,
            RouteKey::Disconnect => Self::DISCONNECT,
            RouteKey::Default => Self::DEFAULT,
            RouteKey::Message(key) => key,
        }
    }

    /// Which kind of route this is.
    #[cfg(test)]
    pub(crate) fn kind(&self) -> RouteKind {
        match self {
            RouteKey::Connect => RouteKind::Connect,
            RouteKey::Disconnect => RouteKind::Disconnect,
            RouteKey::Default => RouteKind::Default,
            RouteKey::Message(_) => RouteKind::Message,
        }
    }
}

impl fmt::Display for RouteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which API Gateway route a handler serves (a [`RouteKey`] without the message route's name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteKind {
    /// `$connect`.
    Connect,
    /// `$disconnect`.
    Disconnect,
    /// `$default`.
    Default,
    /// A route selected by its key.
    Message,
}

impl RouteKind {
    /// The fixed key of the special routes; `None` for message routes.
    pub const fn fixed_key(self) -> Option<&'static str> {
        match self {
            RouteKind::Connect => Some(RouteKey::CONNECT),
            RouteKind::Disconnect => Some(RouteKey::DISCONNECT),
            RouteKind::Default => Some(RouteKey::DEFAULT),
            RouteKind::Message => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        for key in ["$connect", "$disconnect", "$default", "join", "$other"] {
            assert_eq!(RouteKey::parse(key).as_str(), key);
        }
        assert_eq!(RouteKey::parse("$other").kind(), RouteKind::Message);
        assert_eq!(RouteKind::Disconnect.fixed_key(), Some("$disconnect"));
    }
}
