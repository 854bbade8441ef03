//! One exchange as an HTTPie (`http`) command line: method, URL, `Name:value` header items
//! and the body through `--raw` (or piped with `printf` when it holds NUL bytes). Items are
//! escaped so a captured name or value cannot turn into another item type (`=`, `:=`, `@`
//! file reads), and every argument is shell-quoted by [`super::shell`].

use super::shell::{needs_pipe, printf_pipe, quote, quote_word};
use super::{replay_body, replay_headers, url};
use crate::model::Exchange;

/// Escape HTTPie's separator characters in a header name with `\`.
fn escape_name(n: &str) -> String {
    let mut out = String::with_capacity(n.len());
    for c in n.chars() {
        if matches!(c, '\\' | ':' | '=' | '@' | ';') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The HTTPie command that repeats `ex`'s request.
#[must_use]
pub fn command(ex: &Exchange) -> String {
    let req = &ex.request;
    let (body, _) = replay_body(req);
    let method = if req.method.is_empty() { "GET" } else { req.method.as_str() };
    let mut note = String::new();
    if !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        note = format!(
            "# note: HTTPie only sends methods made of letters; this request used {}\n",
            crate::model::text::visible(method)
        );
    }
    let mut args: Vec<String> = vec!["http".into()];
    let piped = !body.is_empty() && needs_pipe(body);
    if !piped {
        args.push("--ignore-stdin".into());
    }
    if !body.is_empty() && !piped {
        args.push("--raw".into());
        args.push(quote(body));
    }
    args.push(quote_word(method));
    args.push(quote(url(ex).as_bytes()));
    for (name, value) in replay_headers(req) {
        let item = if value.is_empty() {
            format!("{};", escape_name(name))
        } else if value.starts_with('@') {
            format!("{}:\\{value}", escape_name(name))
        } else {
            format!("{}:{value}", escape_name(name))
        };
        args.push(quote(item.as_bytes()));
    }
    let prefix = if piped { format!("{} | ", printf_pipe(body)) } else { String::new() };
    format!("{note}{prefix}{}", args.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(method: &str, body: &[u8]) -> Exchange {
        Exchange::builder(method, "/v1/x?q=1")
            .host("h.test:8080")
            .header("Accept", "*/*")
            .header("X-Empty", "")
            .header("X-File", "@/etc/passwd")
            .body(body)
            .build()
    }

    #[test]
    fn get_and_post_commands() {
        assert_eq!(
            command(&ex("GET", b"")),
            "http --ignore-stdin GET 'http://h.test:8080/v1/x?q=1' 'Accept:*/*' 'X-Empty;' 'X-File:\\@/etc/passwd'"
        );
        assert_eq!(
            command(&ex("POST", b"a=b")),
            "http --ignore-stdin --raw 'a=b' POST 'http://h.test:8080/v1/x?q=1' 'Accept:*/*' 'X-Empty;' 'X-File:\\@/etc/passwd'"
        );
    }

    #[test]
    fn nul_bodies_are_piped_and_odd_methods_noted() {
        let c = command(&ex("TEST_METHOD", b"\0"));
        assert!(c.starts_with("# note: HTTPie only sends methods made of letters"), "{c}");
        assert!(c.contains("\nprintf '\\000' | http TEST_METHOD "), "{c}");
    }

    #[test]
    fn separators_in_names_are_escaped() {
        assert_eq!(escape_name("a=b:c@d"), "a\\=b\\:c\\@d");
    }
}
