//! One exchange as a `curl` command line. Every argument is quoted by [`super::shell`], so
//! the line is printable text whatever the capture held; bodies with NUL bytes are piped in
//! with `printf`. `--data-raw` (never `-d`) keeps a body that starts with `@` from being
//! read as a file name, and `--globoff` keeps `[]{}` in URLs literal.

use super::shell::{needs_pipe, printf_pipe, quote, quote_word};
use super::{replay_body, replay_headers, url};
use crate::model::Exchange;

/// The curl command that repeats `ex`'s request.
#[must_use]
pub fn command(ex: &Exchange) -> String {
    let req = &ex.request;
    let (body, _) = replay_body(req);
    let method = if req.method.is_empty() { "GET" } else { req.method.as_str() };
    let u = url(ex);
    let mut args: Vec<String> = vec!["curl".into()];
    if method == "HEAD" && body.is_empty() {
        args.push("--head".into());
    } else if !((method == "GET" && body.is_empty()) || (method == "POST" && !body.is_empty())) {
        args.push("-X".into());
        args.push(quote_word(method));
    }
    if u.contains(['[', ']', '{', '}']) {
        args.push("--globoff".into());
    }
    let path = req.path();
    if path.contains("/./") || path.contains("/../") || path.ends_with("/.") || path.ends_with("/..") {
        args.push("--path-as-is".into());
    }
    if req.version == "HTTP/1.0" {
        args.push("--http1.0".into());
    }
    args.push(quote(u.as_bytes()));
    let mut compressed = false;
    for (name, value) in replay_headers(req) {
        if name.eq_ignore_ascii_case("accept-encoding") {
            compressed |= ["gzip", "deflate", "br", "zstd"].iter().any(|c| value.to_ascii_lowercase().contains(c));
        }
        let h = if value.is_empty() { format!("{name};") } else { format!("{name}: {value}") };
        args.push("-H".into());
        args.push(quote(h.as_bytes()));
    }
    if compressed {
        args.push("--compressed".into());
    }
    let mut prefix = String::new();
    if !body.is_empty() {
        if needs_pipe(body) {
            prefix = format!("{} | ", printf_pipe(body));
            args.push("--data-binary".into());
            args.push("@-".into());
        } else {
            args.push("--data-raw".into());
            args.push(quote(body));
        }
    }
    format!("{prefix}{}", args.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(method: &str, target: &str, body: &[u8]) -> Exchange {
        let mut b = Exchange::builder(method, target)
            .scheme("https")
            .host("api.example.com")
            .version("HTTP/1.1")
            .header("Host", "api.example.com")
            .header("Accept", "application/json");
        if !body.is_empty() {
            b = b.header("Content-Length", body.len().to_string());
        }
        b.body(body).build()
    }

    #[test]
    fn get_is_a_plain_command() {
        assert_eq!(
            command(&ex("GET", "/v1/items?page=2", b"")),
            "curl 'https://api.example.com/v1/items?page=2' -H 'Accept: application/json'"
        );
    }

    #[test]
    fn bodies_and_methods() {
        assert_eq!(
            command(&ex("POST", "/v1/items", b"{\"a\":\"it's\"}")),
            "curl 'https://api.example.com/v1/items' -H 'Accept: application/json' --data-raw '{\"a\":\"it'\\''s\"}'"
        );
        assert_eq!(
            command(&ex("PUT", "/a", b"@/etc/passwd")),
            "curl -X PUT 'https://api.example.com/a' -H 'Accept: application/json' --data-raw '@/etc/passwd'"
        );
        assert_eq!(
            command(&ex("HEAD", "/", b"")),
            "curl --head 'https://api.example.com/' -H 'Accept: application/json'"
        );
        assert!(command(&ex("TEST_METHOD", "/", b"")).starts_with("curl -X TEST_METHOD "));
    }

    #[test]
    fn nul_bodies_are_piped() {
        assert_eq!(
            command(&ex("POST", "/u", b"\x00\x01z")),
            "printf '\\000\\001z' | curl 'https://api.example.com/u' -H 'Accept: application/json' --data-binary @-"
        );
    }

    #[test]
    fn globs_and_dot_segments_stay_literal() {
        let c = command(&ex("GET", "/a/../b[1]", b""));
        assert!(c.starts_with("curl --globoff --path-as-is 'https://api.example.com/a/../b[1]'"), "{c}");
    }
}
