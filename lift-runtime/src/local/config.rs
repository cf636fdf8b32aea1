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
    router.select(selected_key(path, body).as_deref())
}

/// The string at `path` of the body's JSON: the key the route selection expression selects,
/// before it is looked up (`None` when the body is not JSON, or the field is missing or not a
/// string).
pub(crate) fn selected_key(path: &[String], body: &str) -> Option<String> {
    let value = serde_json::from_str::<serde_json::Value>(body).ok()?;
    let selected = path.iter().try_fold(&value, |v, key| v.get(key))?;
    selected.as_str().map(str::to_owned)
}
