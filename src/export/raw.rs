//! An exchange as raw HTTP/1.x text: the request and the response as they would travel on
//! the wire, with decoded bodies. When decoding changed a body (content coding removed,
//! chunking undone) the framing headers are rewritten to match it: `Content-Encoding` and
//! `Transfer-Encoding` are dropped and `Content-Length` is set. HTTP/2 and HTTP/3
//! pseudo-headers become a request line and a `Host` header.

use crate::model::{Body, Exchange, Headers, Response};

fn version(v: &str) -> &str {
    if v.is_empty() { "HTTP/1.1" } else { v }
}

fn transformed(h: &Headers, b: &Body) -> bool {
    b.encoding.is_some() || h.get_all("transfer-encoding").any(|v| v.to_ascii_lowercase().contains("chunked"))
}

fn write_headers(out: &mut Vec<u8>, h: &Headers, body: &Body) {
    let fix = transformed(h, body);
    for x in h.iter() {
        let n = x.name.as_str();
        if n.starts_with(':') {
            continue;
        }
        if fix
            && (n.eq_ignore_ascii_case("content-encoding")
                || n.eq_ignore_ascii_case("transfer-encoding")
                || n.eq_ignore_ascii_case("content-length"))
        {
            continue;
        }
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(x.value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if fix {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.content.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// The request of `ex` as raw HTTP.
#[must_use]
pub fn request(ex: &Exchange) -> Vec<u8> {
    let r = &ex.request;
    let mut out = Vec::with_capacity(256 + r.body.content.len());
    let target = if r.target.is_empty() { "/" } else { r.target.as_str() };
    let method = if r.method.is_empty() { "GET" } else { r.method.as_str() };
    out.extend_from_slice(format!("{method} {target} {}\r\n", version(&r.version)).as_bytes());
    if r.headers.get("host").is_none() {
        let host = ex.host();
        if !host.is_empty() {
            out.extend_from_slice(format!("Host: {host}\r\n").as_bytes());
        }
    }
    write_headers(&mut out, &r.headers, &r.body);
    out.extend_from_slice(&r.body.content);
    out
}

/// The response of `ex` as raw HTTP (empty when there was none).
#[must_use]
pub fn response(ex: &Exchange) -> Vec<u8> {
    ex.response.as_ref().map(response_bytes).unwrap_or_default()
}

fn response_bytes(r: &Response) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + r.body.content.len());
    let line = if r.reason.is_empty() {
        format!("{} {}\r\n", version(&r.version), r.status)
    } else {
        format!("{} {} {}\r\n", version(&r.version), r.status, r.reason)
    };
    out.extend_from_slice(line.as_bytes());
    write_headers(&mut out, &r.headers, &r.body);
    out.extend_from_slice(&r.body.content);
    out
}

/// Request, a blank line, then the response (when there is one).
#[must_use]
pub fn exchange(ex: &Exchange) -> Vec<u8> {
    let mut out = request(ex);
    if let Some(r) = &ex.response {
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&response_bytes(r));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_response_as_on_the_wire() {
        let mut e = Exchange::builder("POST", "/v1/a")
            .version("HTTP/1.1")
            .header("Host", "h")
            .header("Content-Length", "2")
            .body(b"hi")
            .status(200)
            .reason("OK")
            .response_version("HTTP/1.1")
            .response_header("Content-Encoding", "gzip")
            .response_header("Content-Type", "text/plain")
            .response_header("Content-Length", "23")
            .build();
        if let Some(r) = e.response.as_mut() {
            r.body = Body { content: b"hello".to_vec(), size: 5, encoding: Some("gzip".into()), ..Body::default() };
        }
        assert_eq!(
            String::from_utf8(exchange(&e)).unwrap(),
            "POST /v1/a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi\r\n\
             HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
        );
    }

    #[test]
    fn h2_pseudo_headers_become_host() {
        let e = Exchange::builder("GET", "/x")
            .version("HTTP/2")
            .header(":authority", "h2.test")
            .header(":path", "/x")
            .build();
        assert_eq!(String::from_utf8(request(&e)).unwrap(), "GET /x HTTP/2\r\nHost: h2.test\r\n\r\n");
        assert!(response(&e).is_empty());
    }
}
