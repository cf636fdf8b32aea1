//! Ids in API Gateway's shapes: connection ids like `L0SM9cOFvHcCIhw=` (note the `=`, which
//! callers must URL-encode) and UUID-shaped request ids.

#[cfg(feature = "local")]
/// A new random connection id: 11 random bytes in base64 (16 characters ending in `=`, which
/// callers must URL-encode), with `+` and `/` replaced so the rest is alphanumeric.
pub(crate) fn connection_id() -> String {
    use base64::Engine as _;
    let bytes: [u8; 11] = std::array::from_fn(|_| fastrand::u8(..));
    base64::engine::general_purpose::STANDARD
        .encode(bytes)
        .replace(['+', '/'], "A")
}

/// A new random request id shaped like a UUID.
pub(crate) fn request_id() -> String {
    let n = fastrand::u128(..);
    let hex = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    #[cfg(feature = "local")]
    #[test]
    fn connection_ids_look_like_api_gateway_ones() {
        let id = super::connection_id();
        assert_eq!(id.len(), 16, "{id}");
        assert!(id.ends_with('='), "{id}");
        assert!(id[..15].chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
        assert_ne!(id, super::connection_id());
    }

    #[test]
    fn request_ids_look_like_uuids() {
        let id = super::request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
    }
}
