//! Inferring endpoint templates from concrete paths, for traffic no spec documents:
//! identifier-like segments (numbers, UUIDs, hex and mixed tokens, long opaque strings)
//! become `{id}`, so `/v1/orders/123` and `/v1/orders/987` are one endpoint,
//! `/v1/orders/{id}`. Shared by contract gaps (clusters of undocumented calls) and KPIs
//! (endpoint names when no spec is given).

/// True when a path segment looks like an identifier rather than a fixed word.
#[must_use]
pub fn is_identifier_like(seg: &str) -> bool {
    if seg.is_empty() {
        return false;
    }
    let digits = seg.bytes().filter(u8::is_ascii_digit).count();
    let alpha = seg.bytes().filter(u8::is_ascii_alphabetic).count();
    let hex = seg.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    if digits == seg.len() {
        return true; // 123
    }
    if seg.len() == 36 && hex && seg.bytes().filter(|b| *b == b'-').count() == 4 {
        return true; // uuid
    }
    if hex && seg.len() >= 8 && digits > 0 {
        return true; // 5f3a9c01, sha-like
    }
    if digits > 0 && alpha > 0 && seg.len() >= 6 {
        return true; // ord_8f3k2x, A1B2C3
    }
    if seg.len() >= 24 && !seg.contains('.') {
        return true; // opaque tokens
    }
    seg.contains('@')
}

/// The template of `path` (query removed): identifier-like segments become `{id}`.
#[must_use]
pub fn infer_template(path: &str) -> String {
    template_with(path, |_, _, _| None)
}

/// The template of `path` (query removed) with a say for the caller: identifier-like
/// segments become `{id}`; for every other segment, `word(index, template_so_far, segment)`
/// may return a placeholder to put instead (e.g. `{param}` for positions learnt to hold
/// values), or `None` to keep the segment.
pub fn template_with(path: &str, mut word: impl FnMut(usize, &str, &str) -> Option<&'static str>) -> String {
    let path = path.split('?').next().unwrap_or("");
    let mut out = String::with_capacity(path.len());
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if is_identifier_like(seg) {
            out.push_str("{id}");
        } else if let Some(placeholder) = word(i, &out, seg) {
            out.push_str(placeholder);
        } else {
            out.push_str(seg);
        }
    }
    if out.is_empty() { "/".to_string() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_and_uuid_segments_collapse() {
        assert_eq!(infer_template("/v1/orders/12345"), "/v1/orders/{id}");
        assert_eq!(infer_template("/v1/orders/3f2b1c9e-1111-4a2b-9c3d-0123456789ab?x=1"), "/v1/orders/{id}");
        assert_eq!(infer_template("/v1/portfolio"), "/v1/portfolio");
        assert_eq!(infer_template(""), "/");
    }

    #[test]
    fn words_stay_words() {
        for w in ["orders", "healthz", "v1", "users", "me", "wp-login.php"] {
            assert!(!is_identifier_like(w), "{w}");
        }
    }
}
