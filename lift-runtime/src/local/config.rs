//! Route selection as API Gateway does it, for the emulator's MESSAGE events.

/// The route API Gateway selects for a message `body`, with the route selection expression's
/// `path` ([`Settings::selection_path`](crate::Settings)): the string at that path of the
/// body's JSON, looked up in `router` (`$default` when the body is not JSON, the field is
/// missing or not a string, or no route has that key).
pub(crate) fn select_route(
    path: &[String],
    router: &crate::Router,
    body: &str,
) -> crate::router::Resolved {
    let value = serde_json::from_str::<serde_json::Value>(body).ok();
    let selected = value
        .as_ref()
        .and_then(|value| path.iter().try_fold(value, |v, key| v.get(key))?.as_str());
    router.select(selected)
}
