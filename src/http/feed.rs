//! One entry point for splitting a streaming response body into messages: the media type
//! picks the splitter (SSE events, NDJSON lines, JSON-seq records) and the body's bytes are
//! fed as they arrive, each with its capture time, into the exchange's
//! [`MessageStream`]. Whole bodies (HAR, mitmproxy, Charles) go through [`split_whole`] with
//! one time for every message.

use super::ndjson::LineSplitter;
use super::sse::SseParser;
use crate::model::message::{MessageStream, StreamEnd, StreamProtocol};
use crate::model::{Diagnostic, Exchange, Nanos};

/// The splitter of one body.
#[derive(Debug)]
pub enum BodySplitter {
    /// `text/event-stream`.
    Sse(SseParser),
    /// NDJSON or JSON-seq.
    Lines(LineSplitter),
}

/// A body being split, with the stream it fills.
#[derive(Debug)]
pub struct Feed {
    splitter: BodySplitter,
    /// The messages so far.
    pub stream: MessageStream,
}

impl Feed {
    /// A feed for a body of media type `ctype` (lower-case, without parameters), opened at
    /// `opened`; `None` when the media type is not a message stream.
    #[must_use]
    pub fn for_media_type(ctype: &str, opened: Option<Nanos>) -> Option<Self> {
        let protocol = StreamProtocol::for_media_type(ctype)?;
        let splitter = match protocol {
            StreamProtocol::Sse => BodySplitter::Sse(SseParser::new()),
            StreamProtocol::JsonSeq => BodySplitter::Lines(LineSplitter::json_seq()),
            StreamProtocol::Ndjson | StreamProtocol::WebSocket => BodySplitter::Lines(LineSplitter::lines()),
        };
        Some(Self { splitter, stream: MessageStream::new(protocol, opened) })
    }

    /// The next body bytes (transfer coding removed, content coding not applied), at `ts`.
    pub fn push(&mut self, data: &[u8], ts: Nanos) {
        match &mut self.splitter {
            BodySplitter::Sse(p) => p.push(data, ts, &mut self.stream),
            BodySplitter::Lines(p) => p.push(data, ts, &mut self.stream),
        }
        self.stream.closed = Some(self.stream.closed.map_or(ts, |c| c.max(ts)));
    }

    /// The body ended; `cut` says why when it did not end cleanly.
    pub fn finish(mut self, cut: Option<&str>) -> (MessageStream, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        match &mut self.splitter {
            BodySplitter::Sse(p) => p.finish(&mut diags),
            BodySplitter::Lines(p) => p.finish(&mut self.stream),
        }
        self.stream.end = match cut {
            Some(r) => StreamEnd::Cut { reason: r.to_string() },
            None => StreamEnd::ServerClose { code: None },
        };
        diags.extend(self.stream.limit_diagnostic());
        (self.stream, diags)
    }
}

/// Split a whole response body already read (a session file's), every message timed at the
/// response's first byte (or the request's start): the sources give no per-message time.
/// Does nothing when the exchange already has a stream or its body is not a message stream.
pub fn split_whole(ex: &mut Exchange) {
    if ex.stream.is_some() {
        return;
    }
    let Some(resp) = ex.response.as_ref() else { return };
    let Some(ctype) = resp.headers.content_type() else { return };
    let opened = ex.timing.response_start.or(ex.timing.start());
    let Some(mut feed) = Feed::for_media_type(&ctype, opened) else { return };
    if resp.body.content.is_empty() {
        return;
    }
    feed.push(&resp.body.content, opened.unwrap_or(0));
    let cut = resp.body.truncated.then_some("the body was cut");
    let (mut stream, diags) = feed.finish(cut);
    stream.closed = ex.timing.response_end.or(stream.closed);
    ex.diagnostics.extend(diags);
    ex.stream = Some(Box::new(stream));
}
