//! A builder for exchanges made by hand (unit and integration tests, examples): a request
//! line, headers, bodies, a response and timings in one chain, instead of filling an
//! [`Exchange`] field by field. Everything not set keeps [`Exchange::default`]'s value, and
//! bodies are whole ([`Body::from_bytes`]).
//!
//! ```
//! use apiscope::model::Exchange;
//! let ex = Exchange::builder("POST", "/v1/orders")
//!     .host("api.example.com")
//!     .header("Content-Type", "application/json")
//!     .body(b"{\"qty\":3}")
//!     .status(201)
//!     .start_ms(1_000)
//!     .build();
//! assert_eq!(ex.status(), Some(201));
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use super::{Addr, Body, Exchange, Nanos, Response, State, Timing};

/// Builds one [`Exchange`]; see the module notes.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ExchangeBuilder {
    ex: Exchange,
}

impl Exchange {
    /// A builder for an exchange whose request is `method target`.
    pub fn builder(method: &str, target: &str) -> ExchangeBuilder {
        ExchangeBuilder::new(method, target)
    }
}

impl ExchangeBuilder {
    /// An exchange whose request is `method target` (no response yet).
    pub fn new(method: &str, target: &str) -> Self {
        let mut ex = Exchange::default();
        ex.request.method = method.to_string();
        ex.request.target = target.to_string();
        Self { ex }
    }

    /// Position in its source.
    pub fn seq(mut self, seq: u64) -> Self {
        self.ex.seq = seq;
        self
    }

    /// Request scheme (`https`).
    pub fn scheme(mut self, scheme: &str) -> Self {
        self.ex.request.scheme = Some(scheme.to_string());
        self
    }

    /// Request host (`api.example.com`, with a port when one is meant).
    pub fn host(mut self, host: &str) -> Self {
        self.ex.request.host = Some(host.to_string());
        self
    }

    /// Request protocol version (`HTTP/1.1`).
    pub fn version(mut self, version: &str) -> Self {
        self.ex.request.version = version.to_string();
        self
    }

    /// Add a request header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.ex.request.headers.push(name, value.into());
        self
    }

    /// The whole request body.
    pub fn body(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.ex.request.body = Body::from_bytes(bytes.as_ref().to_vec());
        self
    }

    fn response_mut(&mut self) -> &mut Response {
        self.ex.response.get_or_insert_with(Response::default)
    }

    /// The final response's status (the response is created when there is none yet).
    pub fn status(mut self, status: u16) -> Self {
        self.response_mut().status = status;
        self
    }

    /// The final response's reason phrase.
    pub fn reason(mut self, reason: &str) -> Self {
        self.response_mut().reason = reason.to_string();
        self
    }

    /// The final response's protocol version.
    pub fn response_version(mut self, version: &str) -> Self {
        self.response_mut().version = version.to_string();
        self
    }

    /// Add a response header.
    pub fn response_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.response_mut().headers.push(name, value.into());
        self
    }

    /// The whole response body.
    pub fn response_body(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.response_mut().body = Body::from_bytes(bytes.as_ref().to_vec());
        self
    }

    /// The four timings at once.
    pub fn timing(mut self, timing: Timing) -> Self {
        self.ex.timing = timing;
        self
    }

    /// When the request started (capture clock, ns).
    pub fn start(mut self, t: Nanos) -> Self {
        self.ex.timing.request_start = Some(t);
        self
    }

    /// When the request started, in milliseconds.
    pub fn start_ms(self, ms: i64) -> Self {
        self.start(ms * 1_000_000)
    }

    /// When the response ended (capture clock, ns).
    pub fn end(mut self, t: Nanos) -> Self {
        self.ex.timing.response_end = Some(t);
        self
    }

    /// Client address.
    pub fn client(mut self, addr: SocketAddr) -> Self {
        self.ex.client = Some(Addr::new(addr.ip(), addr.port()));
        self
    }

    /// Server address.
    pub fn server(mut self, addr: SocketAddr) -> Self {
        self.ex.server = Some(Addr::new(addr.ip(), addr.port()));
        self
    }

    /// How the exchange ended.
    pub fn state(mut self, state: State) -> Self {
        self.ex.state = state;
        self
    }

    /// The source's comment.
    pub fn comment(mut self, comment: &str) -> Self {
        self.ex.comment = Some(comment.to_string());
        self
    }

    /// The input file and entry number it came from.
    pub fn source(mut self, file: &Arc<str>, entry: Option<u64>) -> Self {
        self.ex.provenance.file = Arc::clone(file);
        self.ex.provenance.entry = entry;
        self
    }

    /// The exchange.
    #[must_use]
    pub fn build(self) -> Exchange {
        self.ex
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_built_exchange_equals_one_filled_by_hand() {
        let built = Exchange::builder("POST", "/v1/x?q=1")
            .scheme("https")
            .host("h.test")
            .header("Accept", "*/*")
            .body(b"a=b")
            .status(503)
            .reason("Service Unavailable")
            .response_header("Retry-After", "5")
            .response_body(b"busy")
            .start(10)
            .end(20)
            .client("10.0.0.1:5000".parse().unwrap())
            .state(State::Complete)
            .build();
        let mut e = Exchange::default();
        e.request.method = "POST".into();
        e.request.target = "/v1/x?q=1".into();
        e.request.scheme = Some("https".into());
        e.request.host = Some("h.test".into());
        e.request.headers.push("Accept", "*/*");
        e.request.body = Body::from_bytes(b"a=b".to_vec());
        let mut r = Response { status: 503, reason: "Service Unavailable".into(), ..Response::default() };
        r.headers.push("Retry-After", "5");
        r.body = Body::from_bytes(b"busy".to_vec());
        e.response = Some(r);
        e.timing.request_start = Some(10);
        e.timing.response_end = Some(20);
        e.client = Some(Addr::new("10.0.0.1".parse().unwrap(), 5000));
        e.state = State::Complete;
        assert_eq!(format!("{built:?}"), format!("{e:?}"));
    }

    #[test]
    fn unset_parts_keep_the_defaults() {
        let e = Exchange::builder("GET", "/").build();
        assert!(e.response.is_none());
        assert_eq!(e.timing, Timing::default());
        assert_eq!(e.state, Exchange::default().state);
    }
}
