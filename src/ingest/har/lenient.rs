//! Lenient building blocks shared by the JSON readers (HAR and Charles): streaming the
//! elements of one array out of a big document as borrowed raw JSON, value types that accept
//! the type drift real exporters produce (numbers as strings, `null` for absent, headers as
//! objects or `[name, value]` pairs), RFC 3339 timestamps with offsets, URL splitting and
//! base64 bodies.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use base64::Engine as _;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::scan;
use crate::model::Nanos;

// ---------------------------------------------------------------------------------------
// Lenient scalar types
// ---------------------------------------------------------------------------------------

/// Text that may arrive as a string (borrowed when it has no escapes), a number, a bool, or
/// `null`/absent (`None`). Objects and arrays are a type error.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct S<'a>(pub Option<Cow<'a, str>>);

impl<'a> S<'a> {
    /// The text, or `""` when absent.
    pub fn as_str(&self) -> &str {
        self.0.as_deref().unwrap_or("")
    }
    /// The text when present and not empty.
    pub fn non_empty(&self) -> Option<&str> {
        self.0.as_deref().filter(|s| !s.is_empty())
    }
}

struct SVisitor;

impl<'de> Visitor<'de> for SVisitor {
    type Value = S<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number, bool or null")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(S(Some(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(S(Some(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(S(Some(Cow::Owned(v))))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(S(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(S(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(S(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(S(Some(Cow::Borrowed(if v { "true" } else { "false" }))))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(S(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(S(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(SVisitor)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for S<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SVisitor)
    }
}

/// A number that may arrive as a JSON number, a numeric string (`"56973"`), or `null` /
/// absent / non-numeric text (`None`).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct N(pub Option<f64>);

impl N {
    /// The value when present and not negative (HAR uses -1 for "not applicable").
    pub fn known(self) -> Option<f64> {
        self.0.filter(|v| *v >= 0.0 && v.is_finite())
    }
    /// The value as a non-negative integer, when known.
    pub fn known_u64(self) -> Option<u64> {
        self.known().map(|v| v as u64)
    }
}

struct NVisitor;

impl<'de> Visitor<'de> for NVisitor {
    type Value = N;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number, numeric string or null")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<N, E> {
        Ok(N(Some(v as f64)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<N, E> {
        Ok(N(Some(v as f64)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<N, E> {
        Ok(N(Some(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<N, E> {
        Ok(N(v.trim().parse::<f64>().ok().filter(|f| f.is_finite())))
    }
    fn visit_bool<E: de::Error>(self, _v: bool) -> Result<N, E> {
        Ok(N(None))
    }
    fn visit_unit<E: de::Error>(self) -> Result<N, E> {
        Ok(N(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<N, E> {
        Ok(N(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<N, D::Error> {
        d.deserialize_any(NVisitor)
    }
}

impl<'de> Deserialize<'de> for N {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NVisitor)
    }
}

/// A flag that may arrive as `true`, `"true"`, `"True"`, `1`, or `null`/absent.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct B(pub Option<bool>);

struct BVisitor;

impl<'de> Visitor<'de> for BVisitor {
    type Value = B;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a bool")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<B, E> {
        Ok(B(Some(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<B, E> {
        Ok(B(Some(v != 0)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<B, E> {
        Ok(B(Some(v != 0)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<B, E> {
        Ok(B(Some(v != 0.0)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<B, E> {
        Ok(B(match v.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(true),
            "false" | "no" | "0" => Some(false),
            _ => None,
        }))
    }
    fn visit_unit<E: de::Error>(self) -> Result<B, E> {
        Ok(B(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<B, E> {
        Ok(B(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<B, D::Error> {
        d.deserialize_any(BVisitor)
    }
}

impl<'de> Deserialize<'de> for B {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BVisitor)
    }
}

/// One header (or query/form parameter): `{"name": …, "value": …}` or `["name", "value"]`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Pair<'a> {
    /// Name as given.
    pub name: S<'a>,
    /// Value as given.
    pub value: S<'a>,
}

struct PairVisitor;

impl<'de> Visitor<'de> for PairVisitor {
    type Value = Pair<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a {name, value} object or a [name, value] array")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut p = Pair::default();
        while let Some(k) = map.next_key::<S<'de>>()? {
            match k.as_str() {
                "name" => p.name = map.next_value()?,
                "value" => p.value = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(p)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let name = seq.next_element::<S<'de>>()?.unwrap_or_default();
        let value = seq.next_element::<S<'de>>()?.unwrap_or_default();
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Pair { name, value })
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Pair<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PairVisitor)
    }
}

/// A list of [`Pair`]s where `null` counts as empty.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Pairs<'a>(pub Vec<Pair<'a>>);

struct PairsVisitor;

impl<'de> Visitor<'de> for PairsVisitor {
    type Value = Pairs<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of headers")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(8).min(256));
        while let Some(p) = seq.next_element::<Pair<'de>>()? {
            v.push(p);
        }
        Ok(Pairs(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // A few tools write headers as one object {"name": "value", …}.
        let mut v = Vec::new();
        while let Some(k) = map.next_key::<S<'de>>()? {
            let value = map.next_value::<S<'de>>()?;
            v.push(Pair { name: k, value });
        }
        Ok(Pairs(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Pairs(Vec::new()))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Pairs(Vec::new()))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(PairsVisitor)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Pairs<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PairsVisitor)
    }
}

impl Pairs<'_> {
    /// Into model headers (names and values as given; absent ones become empty).
    pub fn to_headers(&self) -> crate::model::Headers {
        let mut h = crate::model::Headers(Vec::with_capacity(self.0.len()));
        for p in &self.0 {
            h.push(p.name.as_str(), p.value.as_str());
        }
        h
    }
}

// ---------------------------------------------------------------------------------------
// Streaming the elements of one array
// ---------------------------------------------------------------------------------------

/// Where the array of items sits in the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `{"log": {"entries": [ … ]}}` (HAR).
    HarEntries,
    /// The document is the array (Charles `.chlsj`).
    TopArray,
}

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
/// elements with the structural scanner ([`super::scan`]) and hands batches of them to one
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
                    let end = scan::scan(data, route, |i, s, e| push(i, Found::Scanned(&data[s..e])));
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
            Ok(Err(scan::End::Unsure(k))) => Pass::From(k.min(delivered)),
            Ok(Err(scan::End::Done { found })) => {
                Pass::Done(Walk { elements: delivered, found, stopped: false, error: None })
            }
            // the scanner stops only when its batches can no longer be sent, i.e. the
            // consumer stopped or a converter died, both handled above
            Ok(Err(scan::End::Stopped)) => Pass::From(delivered),
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
        while let Some(k) = map.next_key::<S<'de>>()? {
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

// ---------------------------------------------------------------------------------------
// Times, URLs, addresses, bodies
// ---------------------------------------------------------------------------------------

/// Longest duration accepted from a file (about 104 days); longer values are clamped so
/// that sums and differences of capture-clock times can never overflow.
const MAX_DURATION_NS: f64 = (1u64 << 53) as f64;

/// Milliseconds (float) to nanoseconds, rounded, clamped to ±[`MAX_DURATION_NS`].
pub fn ms_to_ns(ms: f64) -> i64 {
    let ns = (ms * 1_000_000.0).round();
    if ns.is_nan() { 0 } else { ns.clamp(-MAX_DURATION_NS, MAX_DURATION_NS) as i64 }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// Parse an RFC 3339 / ISO 8601 timestamp (`2023-07-25T10:42:01.726810+00:00`,
/// `…Z`, `…-07:00`, `…+0800`, 0–9+ fraction digits, a space instead of `T`; no zone means
/// UTC) to nanoseconds since the Unix epoch. Years outside 1950–2200 are refused, which
/// keeps every difference of two timestamps inside `i64`.
pub fn parse_datetime(s: &str) -> Option<Nanos> {
    let b = s.trim().as_bytes();
    let year = i64::from(digits(b, 0, 4)?);
    if !(1950..=2200).contains(&year) {
        return None;
    }
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut secs = days_from_civil(year, month, day) * 86_400;
    let mut i = 10;
    let mut nanos = 0i64;
    if matches!(b.get(i), Some(b'T' | b't' | b' ')) {
        let hh = digits(b, i + 1, 2)?;
        if b.get(i + 3) != Some(&b':') {
            return None;
        }
        let mm = digits(b, i + 4, 2)?;
        i += 6;
        let mut ss = 0;
        if b.get(i) == Some(&b':') {
            ss = digits(b, i + 1, 2)?;
            i += 3;
        }
        if hh > 23 || mm > 59 || ss > 60 {
            return None;
        }
        secs += i64::from(hh) * 3600 + i64::from(mm) * 60 + i64::from(ss);
        if matches!(b.get(i), Some(b'.' | b',')) {
            i += 1;
            let start = i;
            let mut scale = 100_000_000i64;
            while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
                nanos += i64::from(c - b'0') * scale;
                scale /= 10;
                i += 1;
            }
            if i == start {
                return None;
            }
        }
    }
    match b.get(i) {
        None => {}
        Some(b'Z' | b'z') if i + 1 == b.len() => {}
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits(b, i + 1, 2)?;
            let om = match b.get(i + 3) {
                Some(b':') => digits(b, i + 4, 2)?,
                Some(_) => digits(b, i + 3, 2)?,
                None => 0,
            };
            let off = i64::from(oh) * 3600 + i64::from(om) * 60;
            secs -= if sign == b'+' { off } else { -off };
        }
        Some(_) => return None,
    }
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// An absolute or relative URL split into scheme, authority (userinfo removed) and the
/// target (path and query, `/` when the path is empty; the fragment dropped).
pub fn split_url(url: &str) -> (Option<&str>, Option<&str>, String) {
    let url = url.trim();
    let url = url.split_once('#').map_or(url, |(u, _)| u);
    if let Some((scheme, rest)) = url.split_once("://")
        && !scheme.is_empty()
        && scheme.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    {
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..end];
        let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let tail = &rest[end..];
        let target = if tail.starts_with('/') { tail.to_string() } else { format!("/{tail}") };
        return (Some(scheme), (!authority.is_empty()).then_some(authority), target);
    }
    (None, None, url.to_string())
}

/// The port of an authority (`host:443`, `[::1]:8080`), else the scheme's default.
pub fn port_of(authority: Option<&str>, scheme: Option<&str>) -> Option<u16> {
    if let Some(a) = authority {
        let hostport = a.rsplit_once(']').map_or(a, |(_, p)| p);
        if let Some((_, p)) = hostport.rsplit_once(':')
            && let Ok(p) = p.parse::<u16>()
        {
            return Some(p);
        }
    }
    match scheme.map(str::to_ascii_lowercase).as_deref() {
        Some("http" | "ws") => Some(80),
        Some("https" | "wss") => Some(443),
        _ => None,
    }
}

/// An IP address written plainly, in brackets, or with a port (`1.2.3.4:80`, `[::1]:80`).
pub fn parse_ip(s: &str) -> Option<(IpAddr, Option<u16>)> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some((ip, None));
    }
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        return Some((sa.ip(), Some(sa.port())));
    }
    let t = s.trim_start_matches('[').trim_end_matches(']');
    t.parse::<IpAddr>().ok().map(|ip| (ip, None))
}

/// Decode base64 leniently (standard or URL alphabet, padding optional, whitespace ignored).
pub fn decode_base64(s: &str) -> Result<Vec<u8>, String> {
    use base64::engine::DecodePaddingMode;
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
    const CFG: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, CFG);
    const URL: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, CFG);
    let cleaned: Cow<'_, str> = if s.bytes().any(|c| c.is_ascii_whitespace()) {
        Cow::Owned(s.chars().filter(|c| !c.is_ascii_whitespace()).collect())
    } else {
        Cow::Borrowed(s)
    };
    STD.decode(cleaned.as_bytes())
        .or_else(|_| URL.decode(cleaned.as_bytes()))
        .map_err(|e| format!("invalid base64: {e}"))
}

/// Cut `content` to `cap` bytes; returns true when something was cut.
pub fn cap_body(content: &mut Vec<u8>, cap: usize) -> bool {
    if content.len() > cap {
        content.truncate(cap);
        content.shrink_to_fit();
        true
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_with_offsets_and_fraction_digits_parse() {
        let z = parse_datetime("2023-07-25T10:42:01Z").unwrap();
        assert_eq!(z, 1_690_281_721_000_000_000);
        assert_eq!(parse_datetime("2023-07-25T10:42:01.726810+00:00").unwrap(), z + 726_810_000);
        assert_eq!(parse_datetime("2023-07-25T03:42:01-07:00").unwrap(), z);
        assert_eq!(parse_datetime("2023-07-25T18:42:01.5+0800").unwrap(), z + 500_000_000);
        assert_eq!(parse_datetime("2023-07-25T10:42:01.123456789Z").unwrap(), z + 123_456_789);
        assert_eq!(parse_datetime("2023-07-25 10:42:01").unwrap(), z);
        assert_eq!(parse_datetime("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(parse_datetime("1969-12-31T23:59:59Z"), Some(-1_000_000_000));
        assert_eq!(parse_datetime("1600-01-01T00:00:00Z"), None);
        assert_eq!(ms_to_ns(1e300), 1 << 53);
        assert_eq!(ms_to_ns(f64::NAN), 0);
        for bad in ["", "2023", "2023-13-01T00:00:00Z", "2023-07-25T10:42:01.Z", "garbage", "2023-07-25T10:42:01Zx"] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }

    #[test]
    fn urls_split_into_scheme_authority_target() {
        assert_eq!(
            split_url("https://u:p@h.example:8443/a/b?c=1#f"),
            (Some("https"), Some("h.example:8443"), "/a/b?c=1".into())
        );
        assert_eq!(split_url("http://h.example"), (Some("http"), Some("h.example"), "/".into()));
        assert_eq!(split_url("http://h.example?x"), (Some("http"), Some("h.example"), "/?x".into()));
        assert_eq!(split_url("/only/path"), (None, None, "/only/path".into()));
        assert_eq!(port_of(Some("[::1]:8080"), Some("http")), Some(8080));
        assert_eq!(port_of(Some("[::1]"), Some("https")), Some(443));
    }

    #[test]
    fn lenient_values_accept_type_drift() {
        #[derive(Deserialize)]
        struct T<'a> {
            #[serde(borrow)]
            s: S<'a>,
            n: N,
            m: N,
            b: B,
            #[serde(borrow)]
            h: Pairs<'a>,
        }
        let t: T<'_> = serde_json::from_str(
            r#"{"s": 12, "n": "56973", "m": null, "b": "True", "h": [["a","1"], {"name":"b","value":"2"}]}"#,
        )
        .unwrap();
        assert_eq!(t.s.as_str(), "12");
        assert_eq!(t.n.0, Some(56973.0));
        assert_eq!(t.m.0, None);
        assert_eq!(t.b.0, Some(true));
        assert_eq!(t.h.to_headers().get("b"), Some("2"));
        assert_eq!(t.h.0[0].name.as_str(), "a");
    }

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

    #[test]
    fn base64_is_decoded_leniently() {
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVs\nbG8").unwrap(), b"hello");
        assert!(decode_base64("%%%").is_err());
    }
}
