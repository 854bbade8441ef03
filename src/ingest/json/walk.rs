//! Streaming the elements of one array out of a big JSON document as borrowed raw JSON:
//! the exact `serde_json` walk ([`walk`]) and the pipelined walk ([`walk_convert`]) that
//! finds elements with the structural scanner ([`super::structural`]) and converts them on
//! worker threads, with the same result as the exact walk.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::Route;
use super::lenient::LenientStr;
use super::structural::{self, ScanEnd};

// ---------------------------------------------------------------------------------------
// Streaming the elements of one array
// ---------------------------------------------------------------------------------------

/// What a streaming walk found.
#[derive(Debug, Default)]
pub struct Walk {
    /// Elements handed to the callback.
    pub elements: usize,
    /// True when the array was found (even if empty).
    pub found: bool,
    /// True when the callback asked to stop.
    pub stopped: bool,
    /// A syntax error or truncation: byte offset and why. Elements before it were delivered.
    pub error: Option<(usize, String)>,
}

const STOP: &str = "\u{0}apiscope-stop";

/// Walk the elements of the array at `route` in `data`, one at a time, as borrowed raw
/// JSON (with `serde_json`, which checks the syntax of everything it passes). The callback
/// gets the element index and its raw text, and returns `false` to stop.
/// Never builds a value of the whole document.
pub fn walk<'de, F>(data: &'de [u8], route: Route, mut f: F) -> Walk
where
    F: FnMut(usize, &'de str) -> bool,
{
    let mut f = |i: usize, raw: &'de RawValue| f(i, raw.get());
    let mut walk = Walk::default();
    let mut de = serde_json::Deserializer::from_slice(data);
    let res = {
        let mut ctx = Ctx { f: &mut f, walk: &mut walk };
        match route {
            Route::HarEntries => RootSeed { ctx: &mut ctx }.deserialize(&mut de),
            Route::TopArray => ArraySeed { ctx: &mut ctx }.deserialize(&mut de),
        }
    };
    match res {
        Ok(()) => {
            if let Err(e) = de.end() {
                walk.error = Some((error_offset(data, &e), format!("unexpected data after the document: {e}")));
            }
        }
        Err(e) if walk.stopped && e.to_string().contains(STOP) => {}
        Err(e) => walk.error = Some((error_offset(data, &e), strip_position(&e))),
    }
    walk
}

/// Documents at least this big are walked by [`walk_convert`] with helper threads.
pub const PIPELINE_MIN: usize = 4 << 20;
const BATCH: usize = 128;
/// Most converting threads (the finding thread comes on top).
const MAX_WORKERS: usize = 8;

/// Like [`walk`], but each element is also converted with `conv` (e.g. into an exchange)
/// before `consume` gets it. `conv` returns the conversion and whether it parsed the whole
/// element with `serde_json` (so its syntax is known to be valid; `false` costs one more
/// syntax check of that element).
///
/// Big documents (at least [`PIPELINE_MIN`] bytes) are pipelined: a helper thread finds the
/// elements with the structural scanner ([`super::structural`]) and hands batches of them to one
/// converting thread per core; `conv` therefore runs on many threads at once, in no
/// particular order. Elements still reach `consume` in document order, always on the calling
/// thread; `consume` returning `false` stops everything. An element is trusted only once
/// `serde_json` accepted it; at the first one it did not (or wherever the scanner was not
/// sure), the rest of the document is walked exactly as by [`walk`] (with a `serde_json`
/// walker thread instead of the scanner), so the result — elements, errors, their offsets
/// and messages — is always the one [`walk`] gives.
pub fn walk_convert<'de, T, C, F>(data: &'de [u8], route: Route, conv: &C, consume: F) -> Walk
where
    T: Send,
    C: Fn(usize, &'de str) -> (T, bool) + Sync,
    F: FnMut(usize, &'de str, T) -> bool,
{
    walk_convert_from(data, route, PIPELINE_MIN, conv, consume)
}

/// Converting threads for a pipelined walk: one per available core, at least one.
fn worker_count() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get).clamp(1, MAX_WORKERS)
}

/// One element on its way to a converting thread: checked text (found by the exact walker)
/// or a byte range the scanner found (its UTF-8 and syntax still to be checked).
#[derive(Clone, Copy)]
enum Found<'de> {
    Checked(&'de str),
    Scanned(&'de [u8]),
}

/// A batch of elements found, on its way to a converting thread, with the channel its
/// converted batch goes back on.
type Job<'de, T> = (Vec<(usize, Found<'de>)>, crossbeam_channel::Sender<Vec<Item<'de, T>>>);

/// One converted element: its index, text and conversion; `None` when `serde_json` does not
/// accept the element the scanner found (the exact walk takes over there).
type Item<'de, T> = (usize, Option<(&'de str, T)>);

/// Which thread finds the elements of a pipelined walk.
#[derive(Clone, Copy)]
enum Finder {
    /// The structural scanner.
    Scan,
    /// The exact `serde_json` walk, handing out elements from this index on.
    Exact(usize),
}

/// How one pipelined pass ended.
enum Pass {
    /// The walk is complete (or stopped, or failed).
    Done(Walk),
    /// Elements before this index were delivered; the rest needs the exact walk.
    From(usize),
}

fn walk_convert_from<'de, T, C, F>(data: &'de [u8], route: Route, min: usize, conv: &C, mut consume: F) -> Walk
where
    T: Send,
    C: Fn(usize, &'de str) -> (T, bool) + Sync,
    F: FnMut(usize, &'de str, T) -> bool,
{
    if data.len() < min {
        return walk(data, route, |i, raw| consume(i, raw, conv(i, raw).0));
    }
    match pipeline(data, route, Finder::Scan, conv, &mut consume) {
        Pass::Done(w) => w,
        Pass::From(k) => match pipeline(data, route, Finder::Exact(k), conv, &mut consume) {
            Pass::Done(w) => w,
            // the exact walk vouches for every element, so this does not happen
            Pass::From(_) => {
                Walk { error: Some((0, "internal error: the exact walk gave up".into())), ..Walk::default() }
            }
        },
    }
}

/// Convert one element found by `finder`, checking what the scanner did not.
fn convert<'de, T, C>(conv: &C, i: usize, found: Found<'de>) -> Option<(&'de str, T)>
where
    C: Fn(usize, &'de str) -> (T, bool),
{
    match found {
        Found::Checked(text) => Some((text, conv(i, text).0)),
        Found::Scanned(bytes) => {
            let text = std::str::from_utf8(bytes).ok()?;
            let (t, parsed) = conv(i, text);
            (parsed || serde_json::from_str::<IgnoredAny>(text).is_ok()).then_some((text, t))
        }
    }
}

fn pipeline<'de, T, C, F>(data: &'de [u8], route: Route, finder: Finder, conv: &C, consume: &mut F) -> Pass
where
    T: Send,
    C: Fn(usize, &'de str) -> (T, bool) + Sync,
    F: FnMut(usize, &'de str, T) -> bool,
{
    let workers = worker_count();
    // Jobs go to whichever converter is free; the receiving end of each job's result channel
    // goes, in document order, to the consumer, which therefore sees batches in order
    // without a reorder buffer. Both channels are bounded, so memory is too.
    let (job_tx, job_rx) = crossbeam_channel::bounded::<Job<'de, T>>(workers * 2);
    let (order_tx, order_rx) =
        crossbeam_channel::bounded::<crossbeam_channel::Receiver<Vec<Item<'de, T>>>>(workers * 4);
    std::thread::scope(|scope| {
        let mut converters = Vec::with_capacity(workers);
        for _ in 0..workers {
            let job_rx = job_rx.clone();
            converters.push(scope.spawn(move || {
                for (batch, done) in job_rx {
                    let out: Vec<Item<'de, T>> = batch.into_iter().map(|(i, f)| (i, convert(conv, i, f))).collect();
                    // the consumer may have stopped: nothing to do then
                    let _ = done.send(out);
                }
            }));
        }
        drop(job_rx);
        let finding = scope.spawn(move || {
            let mut batch: Vec<(usize, Found<'de>)> = Vec::with_capacity(BATCH);
            let mut push = |i: usize, found: Found<'de>| {
                batch.push((i, found));
                if batch.len() < BATCH {
                    return true;
                }
                let (done_tx, done_rx) = crossbeam_channel::bounded(1);
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                order_tx.send(done_rx).is_ok() && job_tx.send((full, done_tx)).is_ok()
            };
            let end = match finder {
                Finder::Scan => {
                    let end = structural::scan(data, route, |i, s, e| push(i, Found::Scanned(&data[s..e])));
                    Err(end)
                }
                Finder::Exact(from) => Ok(walk(data, route, |i, raw| i < from || push(i, Found::Checked(raw)))),
            };
            if !batch.is_empty() {
                let (done_tx, done_rx) = crossbeam_channel::bounded(1);
                if order_tx.send(done_rx).is_ok() {
                    let _ = job_tx.send((batch, done_tx));
                }
            }
            end
        });
        let mut delivered = match finder {
            Finder::Scan => 0,
            Finder::Exact(from) => from,
        };
        let mut stopped = false;
        let mut lost = false;
        let mut unsure = None;
        'outer: for done in &order_rx {
            let Ok(items) = done.recv() else {
                // a converter died before finishing this batch
                lost = true;
                break;
            };
            for (i, item) in items {
                let Some((text, t)) = item else {
                    unsure = Some(i);
                    break 'outer;
                };
                delivered += 1;
                if !consume(i, text, t) {
                    stopped = true;
                    break 'outer;
                }
            }
        }
        drop(order_rx);
        let found = finding.join();
        for c in converters {
            if c.join().is_err() {
                lost = true;
            }
        }
        let stop = |mut w: Walk| {
            if stopped {
                w.stopped = true;
                w.error = None;
                w.elements = delivered;
            } else if lost {
                w.error = Some((0, "internal error: a converting thread failed".into()));
                w.elements = delivered;
            }
            w
        };
        if stopped || lost {
            let w = match found {
                Ok(Ok(w)) => w,
                _ => Walk { found: true, ..Walk::default() },
            };
            return Pass::Done(stop(w));
        }
        match found {
            Err(_) => Pass::Done(stop(Walk {
                error: Some((0, "internal error: the JSON walker thread failed".into())),
                ..Walk::default()
            })),
            Ok(Ok(w)) => Pass::Done(stop(w)),
            Ok(Err(_)) if unsure.is_some() => Pass::From(delivered),
            Ok(Err(ScanEnd::Unsure(k))) => Pass::From(k.min(delivered)),
            Ok(Err(ScanEnd::Done { found })) => {
                Pass::Done(Walk { elements: delivered, found, stopped: false, error: None })
            }
            // the scanner stops only when its batches can no longer be sent, i.e. the
            // consumer stopped or a converter died, both handled above
            Ok(Err(ScanEnd::Stopped)) => Pass::From(delivered),
        }
    })
}

struct Ctx<'c, F> {
    f: &'c mut F,
    walk: &'c mut Walk,
}

struct RootSeed<'c, 'f, F> {
    ctx: &'c mut Ctx<'f, F>,
}

impl<'de, F: FnMut(usize, &'de RawValue) -> bool> DeserializeSeed<'de> for RootSeed<'_, '_, F> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(KeyedVisitor { ctx: self.ctx, key: "log", inner: true })
    }
}

/// Visits an object, descending into `key` (into `entries` when `inner`, else the array).
struct KeyedVisitor<'c, 'f, F> {
    ctx: &'c mut Ctx<'f, F>,
    key: &'static str,
    inner: bool,
}

impl<'de, F: FnMut(usize, &'de RawValue) -> bool> Visitor<'de> for KeyedVisitor<'_, '_, F> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object with \"{}\"", self.key)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(k) = map.next_key::<LenientStr<'de>>()? {
            if k.as_str() == self.key && !self.ctx.walk.found {
                if self.inner {
                    map.next_value_seed(InnerSeed { ctx: &mut *self.ctx })?;
                } else {
                    map.next_value_seed(ArraySeed { ctx: &mut *self.ctx })?;
                }
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct InnerSeed<'c, 'f, F> {
    ctx: &'c mut Ctx<'f, F>,
}

impl<'de, F: FnMut(usize, &'de RawValue) -> bool> DeserializeSeed<'de> for InnerSeed<'_, '_, F> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(KeyedVisitor { ctx: self.ctx, key: "entries", inner: false })
    }
}

struct ArraySeed<'c, 'f, F> {
    ctx: &'c mut Ctx<'f, F>,
}

impl<'de, F: FnMut(usize, &'de RawValue) -> bool> DeserializeSeed<'de> for ArraySeed<'_, '_, F> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(usize, &'de RawValue) -> bool> Visitor<'de> for ArraySeed<'_, '_, F> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.ctx.walk.found = true;
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            let i = self.ctx.walk.elements;
            self.ctx.walk.elements += 1;
            if !(self.ctx.f)(i, raw) {
                self.ctx.walk.stopped = true;
                return Err(de::Error::custom(STOP));
            }
        }
        Ok(())
    }
}

/// Byte offset of a serde_json error, from its line and (byte) column.
pub fn error_offset(data: &[u8], e: &serde_json::Error) -> usize {
    if e.is_eof() {
        return data.len();
    }
    let (line, col) = (e.line(), e.column());
    if line == 0 {
        return 0;
    }
    let mut start = 0usize;
    let mut seen = 1usize;
    if line > 1 {
        for pos in memchr::memchr_iter(b'\n', data) {
            seen += 1;
            if seen == line {
                start = pos + 1;
                break;
            }
        }
    }
    (start + col.saturating_sub(1)).min(data.len())
}

/// A serde_json error message without its " at line L column C" suffix.
pub fn strip_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// The offset of `inner` inside `outer`, when `inner` is a sub-slice of it.
pub fn offset_in(outer: &[u8], inner: &str) -> usize {
    (inner.as_ptr() as usize).wrapping_sub(outer.as_ptr() as usize).min(outer.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_delivers_elements_before_a_syntax_error() {
        let doc = br#"{"log": {"version": "1.2", "entries": [{"a": 1}, {"b": [2]}, {"c": tru"#;
        let mut seen = Vec::new();
        let w = walk(doc, Route::HarEntries, |i, raw| {
            seen.push((i, raw.to_string()));
            true
        });
        assert!(w.found);
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[1].1, r#"{"b": [2]}"#);
        let (off, why) = w.error.unwrap();
        assert!(off > 60 && off <= doc.len(), "{off}");
        assert!(!why.contains("line"), "{why}");
    }

    #[test]
    fn walk_stops_when_asked_and_finds_top_arrays() {
        let doc = b"[1, 2, 3, 4]";
        let mut n = 0;
        let w = walk(doc, Route::TopArray, |_, _| {
            n += 1;
            n < 2
        });
        assert!(w.stopped && w.error.is_none());
        assert_eq!(n, 2);
        let w = walk(br#"{"other": 1}"#, Route::HarEntries, |_, _| true);
        assert!(!w.found && w.error.is_none());
    }

    #[test]
    fn the_pipelined_walk_matches_the_plain_one() {
        let mut doc = String::from("{\"log\":{\"entries\":[");
        for i in 0..1000 {
            doc.push_str(&format!("{{\"i\":{i},\"s\":\"x\\\"y\"}},"));
        }
        doc.push_str("{\"bad\": tru");
        let mut a = Vec::new();
        let wa = walk(doc.as_bytes(), Route::HarEntries, |i, r| {
            a.push((i, r.to_string()));
            true
        });
        let mut b = Vec::new();
        let conv = |i: usize, r: &str| (format!("{i}:{}", r.len()), true);
        let wb = walk_convert_from(doc.as_bytes(), Route::HarEntries, 0, &conv, |i, r, t| {
            assert_eq!(t, conv(i, r).0);
            b.push((i, r.to_string()));
            true
        });
        assert_eq!(a.len(), 1000);
        assert_eq!(a, b);
        assert_eq!(wa.error, wb.error);
        assert_eq!(wa.elements, wb.elements);
        let mut n = 0;
        let wc = walk_convert_from(doc.as_bytes(), Route::HarEntries, 0, &conv, |_, _, _| {
            n += 1;
            n < 300
        });
        assert!(wc.stopped && wc.error.is_none());
        assert_eq!((n, wc.elements), (300, 300));
    }

    #[test]
    fn the_pipelined_walk_falls_back_to_the_exact_walk_with_the_same_result() {
        let entry = |i: usize| format!("{{\"i\":{i},\"s\":\"x\\\"y\"}}");
        let doc = |bad: &str| {
            let mut v: Vec<String> = (0..600).map(entry).collect();
            v[300] = bad.to_string();
            format!("{{\"log\":{{\"entries\":[{}]}}}}", v.join(",\n"))
        };
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(126), "]".repeat(126));
        let docs = [
            doc("5"),
            doc("{\"s\": \"bad \\x escape\"}"),
            doc("{\"s\": \"lone \\ud800\"}"),
            doc("{\"n\": 1e999}"),
            doc(&deep),
            doc("{\"a\": [1}, {\"b\": 2]}"),
            doc("{\"a\": 1}]} trailing"),
            doc(&entry(300)).replacen("\"entries\"", "\"pages\":[],\"entries\"", 1) + " ",
            doc(&entry(300))[..9000].to_string(),
        ];
        // converting parses like the readers do: a type error is a failed conversion
        let conv = |_: usize, r: &str| {
            let t = serde_json::from_str::<std::collections::BTreeMap<String, serde_json::Value>>(r)
                .map(|m| m.len())
                .map_err(|e| e.to_string());
            let parsed = t.is_ok();
            (t, parsed)
        };
        for d in &docs {
            let mut a = Vec::new();
            let wa = walk(d.as_bytes(), Route::HarEntries, |i, r| {
                a.push((i, r.to_string(), conv(i, r).0));
                true
            });
            let mut b = Vec::new();
            let wb = walk_convert_from(d.as_bytes(), Route::HarEntries, 0, &conv, |i, r, t| {
                b.push((i, r.to_string(), t));
                true
            });
            assert_eq!(a, b, "{}", &d[..d.len().min(200)]);
            assert_eq!((wa.error, wa.elements, wa.found), (wb.error, wb.elements, wb.found));
        }
    }
}
