//! The shape of one HAR 1.2 entry as the HAR reader reads it: every field optional and of a
//! lenient type ([`crate::ingest::json::lenient`]), so that a quirk of an exporter (a missing
//! "required" field, a number as a string, `[name, value]` headers) never loses the entry.
//! Built by `serde_json` or, for most entries, by the direct reader ([`super::direct`]).

use serde::Deserialize;

use crate::ingest::json::lenient::{LenientNum, LenientStr, Pairs};

/// One element of `log.entries`. Type errors still name it "struct Entry" in the diagnostics
/// of skipped entries, as before it was called `HarEntry`.
#[derive(Deserialize, Default, Debug, PartialEq)]
#[serde(expecting = "struct Entry")]
pub(crate) struct HarEntry<'a> {
    #[serde(borrow, default, rename = "startedDateTime")]
    pub(crate) started: LenientStr<'a>,
    #[serde(default)]
    pub(crate) time: LenientNum,
    #[serde(borrow, default)]
    pub(crate) request: Option<HarRequest<'a>>,
    #[serde(borrow, default)]
    pub(crate) response: Option<HarResponse<'a>>,
    #[serde(default)]
    pub(crate) timings: Option<Timings>,
    #[serde(borrow, default, rename = "serverIPAddress")]
    pub(crate) server_ip: LenientStr<'a>,
    #[serde(borrow, default)]
    pub(crate) connection: LenientStr<'a>,
    #[serde(borrow, default)]
    pub(crate) comment: LenientStr<'a>,
}

/// `entry.request`.
#[derive(Deserialize, Default, Debug, PartialEq)]
pub(crate) struct HarRequest<'a> {
    #[serde(borrow, default)]
    pub(crate) method: LenientStr<'a>,
    #[serde(borrow, default)]
    pub(crate) url: LenientStr<'a>,
    #[serde(borrow, default, rename = "httpVersion")]
    pub(crate) http_version: LenientStr<'a>,
    #[serde(borrow, default)]
    pub(crate) headers: Pairs<'a>,
    #[serde(borrow, default, rename = "postData")]
    pub(crate) post_data: Option<PostData<'a>>,
    #[serde(default, rename = "bodySize")]
    pub(crate) body_size: LenientNum,
}

/// `request.postData`: the request body as text, as form parameters, or in a `_file`.
#[derive(Deserialize, Default, Debug, PartialEq)]
pub(crate) struct PostData<'a> {
    #[serde(borrow, default, rename = "mimeType")]
    pub(crate) mime_type: LenientStr<'a>,
    #[serde(borrow, default)]
    pub(crate) text: LenientStr<'a>,
    #[serde(borrow, default)]
    pub(crate) params: Pairs<'a>,
    #[serde(borrow, default)]
    pub(crate) encoding: LenientStr<'a>,
    #[serde(borrow, default, rename = "_file")]
    pub(crate) file: LenientStr<'a>,
}

/// `entry.response` (`_error`: the browser's reason a request failed).
#[derive(Deserialize, Default, Debug, PartialEq)]
pub(crate) struct HarResponse<'a> {
    #[serde(default)]
    pub(crate) status: LenientNum,
    #[serde(borrow, default, rename = "statusText")]
    pub(crate) status_text: LenientStr<'a>,
    #[serde(borrow, default, rename = "httpVersion")]
    pub(crate) http_version: LenientStr<'a>,
    #[serde(borrow, default)]
    pub(crate) headers: Pairs<'a>,
    #[serde(borrow, default)]
    pub(crate) content: Option<Content<'a>>,
    #[serde(default, rename = "bodySize")]
    pub(crate) body_size: LenientNum,
    #[serde(borrow, default, rename = "_error")]
    pub(crate) error: LenientStr<'a>,
}

/// `response.content`: the response body as text (maybe base64), or in a `_file`.
#[derive(Deserialize, Default, Debug, PartialEq)]
pub(crate) struct Content<'a> {
    #[serde(default)]
    pub(crate) size: LenientNum,
    #[serde(borrow, default)]
    pub(crate) text: LenientStr<'a>,
    #[serde(borrow, default)]
    pub(crate) encoding: LenientStr<'a>,
    #[serde(borrow, default, rename = "_file")]
    pub(crate) file: LenientStr<'a>,
}

/// `entry.timings`, in milliseconds (-1 or absent: not applicable).
#[derive(Deserialize, Default, Clone, Copy, Debug, PartialEq)]
pub(crate) struct Timings {
    #[serde(default)]
    pub(crate) blocked: LenientNum,
    #[serde(default)]
    pub(crate) dns: LenientNum,
    #[serde(default)]
    pub(crate) connect: LenientNum,
    #[serde(default)]
    pub(crate) send: LenientNum,
    #[serde(default)]
    pub(crate) wait: LenientNum,
    #[serde(default)]
    pub(crate) receive: LenientNum,
}
