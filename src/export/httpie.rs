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
    if !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        // HTTPie would read such a method as a URL or an option: leave the command out.
        return format!(
            "# skipped: HTTPie only sends methods made of letters; this request used {}",
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
    // Everything after `--` is a method, URL or request item, never an option, whatever
    // the capture held.
    args.push("--".into());
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
    format!("{prefix}{}", args.join(" "))
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
            "http --ignore-stdin -- GET 'http://h.test:8080/v1/x?q=1' 'Accept:*/*' 'X-Empty;' 'X-File:\\@/etc/passwd'"
        );
        assert_eq!(
            command(&ex("POST", b"a=b")),
            "http --ignore-stdin --raw 'a=b' -- POST 'http://h.test:8080/v1/x?q=1' 'Accept:*/*' 'X-Empty;' 'X-File:\\@/etc/passwd'"
        );
    }

    #[test]
    fn nul_bodies_are_piped() {
        let c = command(&ex("POST", b"\0"));
        assert!(c.starts_with("printf '\\000' | http -- POST "), "{c}");
    }

    #[test]
    fn methods_httpie_cannot_send_are_left_out_not_run_as_options() {
        for m in ["TEST_METHOD", "-o/tmp/x", "--download"] {
            let c = command(&ex(m, b""));
            assert!(c.starts_with("# skipped: HTTPie only sends methods made of letters"), "{c}");
            assert!(!c.contains('\n'), "{c}");
        }
    }

    #[test]
    fn captured_names_that_look_like_options_come_after_the_end_of_options() {
        let mut e = ex("GET", b"");
        e.request.headers.push("-o/tmp/x", "1");
        e.request.headers.push("--output", "/tmp/y");
        let c = command(&e);
        let end = c.find(" -- ").expect("options are ended");
        assert!(c.find("'-o/tmp/x:1'").unwrap() > end, "{c}");
        assert!(c.find("'--output:/tmp/y'").unwrap() > end, "{c}");
    }

    #[test]
    fn separators_in_names_are_escaped() {
        assert_eq!(escape_name("a=b:c@d"), "a\\=b\\:c\\@d");
    }
}
