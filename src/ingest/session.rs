//! The one driver of JSON-array session files (HAR `log.entries`, Charles `.chlsj`): walks
//! the array's elements ([`crate::ingest::json::walk`]), has a [`JsonSession`] converter turn
//! each into an [`Exchange`] — on the walk's worker threads for big documents, together with
//! the sink's [`crate::ingest::Prepare`] work — and hands them to the sink in document order
//! with their `seq` and byte offset. It reports progress and gives back the pages of a
//! mapping already read, skips an element that does not convert with a diagnostic, keeps
//! everything before a syntax error or truncation, and counts what the `--summary` shows.

use std::path::Path;
use std::sync::Arc;

use super::detect::InputFormat;
use super::document::Document;
use super::json::Route;
use super::json::walk::{offset_in, walk_convert};
use super::{IngestError, Prepared, ReadOptions, ReadSummary, Sink};
use crate::model::{Diagnostic, Exchange, Severity};

/// Progress is reported (and consumed pages of a mapping released) every this many bytes.
pub(crate) const PROGRESS_STEP: usize = 32 << 20;

/// Skipped elements listed one by one in diagnostics; the rest are counted in one summary
/// diagnostic, so a file of millions of broken elements costs no memory for them.
pub const MAX_SKIP_DIAGNOSTICS: u64 = 100;

/// How a session format names its parts in diagnostics and counters.
pub(crate) struct SessionNames {
    /// The document, as in "not a readable HAR document".
    pub document: &'static str,
    /// One element ("entry"), as in "entry skipped" and "entry 3 (byte 120)".
    pub item: &'static str,
    /// Elements ("entries"), the name of the element counter.
    pub items: &'static str,
    /// Diagnostic code of a skipped element.
    pub broken_code: &'static str,
    /// Diagnostic code of a document cut short or broken after some elements.
    pub truncated_code: &'static str,
    /// Where and why the document is damaged when the array is not there at all (`None`:
    /// the walk itself reports a missing array as a syntax error).
    pub missing: Option<(&'static str, &'static str)>,
}

/// One JSON-array session format: where its array is and how one element becomes an
/// exchange. Conversion runs on worker threads, so it must need nothing but its arguments.
pub(crate) trait JsonSession {
    /// The format, for the summary.
    const FORMAT: InputFormat;
    /// Where the array of elements is.
    const ROUTE: Route;
    /// Names in diagnostics and counters.
    const NAMES: SessionNames;

    /// One element (its raw JSON text, the `idx`-th of the array) as an exchange; its `seq`
    /// and offset are set by the driver. `Err` says why the element is skipped.
    ///
    /// # Errors
    /// The element is not one of this format (a type error, no request at all, …).
    fn convert(text: &str, idx: usize, file: &Arc<str>, opts: &ReadOptions) -> Result<Exchange, String>;

    /// Whether the exchange counts among the summary's "failed requests".
    fn counts_as_failed(ex: &Exchange) -> bool;
}

/// Counters kept while reading one file.
#[derive(Default)]
struct Counts {
    emitted: u64,
    skipped: u64,
    detached: u64,
    failed: u64,
}

/// Read a JSON session document of format `F` (BOM already removed) into `sink`.
///
/// # Errors
/// [`IngestError::Damaged`] when the document is broken before any element could be read,
/// or (for formats that name it) has no array at all.
pub(crate) fn read_session<F: JsonSession>(
    doc: &Document<'_>,
    path: &Path,
    opts: &ReadOptions,
    sink: &mut dyn Sink,
) -> Result<ReadSummary, IngestError> {
    let names = &F::NAMES;
    let data = doc.data;
    let file: Arc<str> = Arc::from(path.display().to_string());
    let total = data.len() as u64;
    let mut counts = Counts::default();
    let mut last_progress = 0usize;
    let preparer = sink.preparer();
    let conv = |idx: usize, raw: &str| {
        let mut ex = F::convert(raw, idx, &file, opts);
        let parsed = ex.is_ok();
        let prepared = match (&mut ex, &preparer) {
            (Ok(ex), Some(p)) => {
                let prepared = p.prepare(ex);
                if p.drops_bodies() {
                    ex.request.body.content = Vec::new();
                    if let Some(r) = &mut ex.response {
                        r.body.content = Vec::new();
                    }
                }
                Some(prepared)
            }
            _ => None,
        };
        ((ex, prepared), parsed)
    };
    let walk = walk_convert(data, F::ROUTE, &conv, |idx, raw, (result, prepared)| {
        let off = offset_in(data, raw);
        if off - last_progress >= PROGRESS_STEP {
            sink.progress(off as u64, Some(total));
            doc.release_before(off);
            last_progress = off;
        }
        match result {
            Ok(ex) => deliver::<F>(ex, prepared, off, &mut counts, sink),
            Err(why) => {
                counts.skipped += 1;
                if counts.skipped <= MAX_SKIP_DIAGNOSTICS {
                    sink.diagnostic(
                        &Diagnostic::new(Severity::Error, names.broken_code, format!("{} skipped: {why}", names.item))
                            .at(format!("{} {idx} (byte {off})", names.item)),
                    );
                }
            }
        }
        !sink.should_stop()
    });
    if let Some((off, why)) = &walk.error {
        damaged_after(
            path,
            sink,
            (*off, why.as_str()),
            walk.elements,
            (names.document, names.items, names.truncated_code),
        )?;
    } else if !walk.found
        && let Some((place, why)) = names.missing
    {
        return Err(IngestError::Damaged { path: path.to_path_buf(), place: place.into(), why: why.into() });
    }
    if counts.skipped > MAX_SKIP_DIAGNOSTICS {
        sink.diagnostic(&Diagnostic::new(
            Severity::Error,
            names.broken_code,
            format!(
                "{} more {} skipped (only the first {MAX_SKIP_DIAGNOSTICS} are listed; {} skipped in all)",
                counts.skipped - MAX_SKIP_DIAGNOSTICS,
                names.items,
                counts.skipped
            ),
        ));
    }
    sink.progress(total, Some(total));
    let mut counters = vec![(names.items.to_string(), walk.elements as u64)];
    counters.push((format!("{} skipped", names.items), counts.skipped));
    counters.push(("failed requests".into(), counts.failed));
    if counts.detached > 0 {
        counters.push(("detached bodies".into(), counts.detached));
    }
    Ok(ReadSummary { format: Some(F::FORMAT), exchanges: counts.emitted, bytes: total, connections: 0, counters })
}

/// Number, count and hand one converted exchange (prepared or not) to the sink.
fn deliver<F: JsonSession>(
    mut ex: Exchange,
    prepared: Option<Prepared>,
    off: usize,
    counts: &mut Counts,
    sink: &mut dyn Sink,
) {
    ex.seq = counts.emitted;
    ex.provenance.offset = Some(off as u64);
    if F::counts_as_failed(&ex) {
        counts.failed += 1;
    }
    if ex.response.as_ref().is_some_and(|r| r.body.detached.is_some()) || ex.request.body.detached.is_some() {
        counts.detached += 1;
    }
    sink.take(ex, prepared);
    counts.emitted += 1;
}

/// What a streaming reader does when its walk over a session file stopped at byte `off`
/// because of `why`: with nothing read yet the file is [`IngestError::Damaged`]; otherwise
/// the items before the damage stand and a `code` diagnostic says where the rest was lost.
///
/// # Errors
/// [`IngestError::Damaged`] when `items_read` is 0.
pub(crate) fn damaged_after(
    path: &Path,
    sink: &mut dyn Sink,
    (off, why): (usize, &str),
    items_read: usize,
    (document, items, code): (&str, &str, &str),
) -> Result<(), IngestError> {
    if items_read == 0 {
        return Err(IngestError::Damaged {
            path: path.to_path_buf(),
            place: format!("byte {off}"),
            why: format!("not a readable {document}: {why}"),
        });
    }
    sink.diagnostic(
        &Diagnostic::new(
            Severity::Error,
            code,
            format!("the rest of the file is unreadable ({why}); the {items_read} {items} before it were read"),
        )
        .at(format!("byte {off}")),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::ingest::Prepare;
    use crate::ingest::charles::Charles;
    use crate::ingest::har::Har;

    /// Counts the exchanges it prepares, hands back each one's request target, and lets
    /// the reader drop bodies.
    #[derive(Default)]
    struct Targets {
        prepared: AtomicUsize,
    }

    impl Prepare for Targets {
        fn prepare(&self, ex: &Exchange) -> Prepared {
            self.prepared.fetch_add(1, Ordering::Relaxed);
            Box::new(ex.request.target.clone())
        }
        fn drops_bodies(&self) -> bool {
            true
        }
    }

    /// Keeps what it was handed: (target from the preparer, response body length), and how
    /// many exchanges came without preparing.
    struct Keep {
        preparer: Arc<Targets>,
        got: Vec<(String, usize)>,
        unprepared: usize,
    }

    impl Sink for Keep {
        fn exchange(&mut self, _ex: &Exchange) {
            self.unprepared += 1;
        }
        fn preparer(&self) -> Option<Arc<dyn Prepare>> {
            Some(Arc::clone(&self.preparer) as Arc<dyn Prepare>)
        }
        fn prepared(&mut self, ex: &Exchange, prepared: Prepared) {
            let target = *prepared.downcast::<String>().expect("the preparer's output");
            self.got.push((target, ex.response.as_ref().map_or(0, |r| r.body.content.len())));
        }
    }

    fn read<F: JsonSession>(doc: &str) -> Keep {
        let mut sink = Keep { preparer: Arc::default(), got: Vec::new(), unprepared: 0 };
        read_session::<F>(&Document::new(doc.as_bytes()), Path::new("t"), &ReadOptions::default(), &mut sink)
            .expect("readable");
        sink
    }

    #[test]
    fn har_and_charles_exchanges_reach_the_sink_prepared_with_bodies_dropped() {
        let har = r#"{"log":{"entries":[
          {"request":{"method":"GET","url":"http://a/1"},"response":{"status":200,"content":{"text":"abc"}}},
          {"request":{"method":"GET","url":"http://a/2"},"response":{"status":200,"content":{"text":"de"}}}]}}"#;
        let charles = r#"[{"status":"COMPLETE","method":"GET","host":"a","path":"/x",
          "response":{"status":200,"body":{"text":"hello"}}},{"status":"COMPLETE","method":"GET","host":"a","path":"/y"}]"#;
        for sink in [read::<Har>(har), read::<Charles>(charles)] {
            assert_eq!(sink.preparer.prepared.load(Ordering::Relaxed), 2);
            assert_eq!(sink.unprepared, 0);
            assert_eq!(sink.got.len(), 2);
            assert!(sink.got.iter().all(|&(_, body)| body == 0), "{:?}", sink.got);
        }
        let targets: Vec<String> = read::<Charles>(charles).got.into_iter().map(|(t, _)| t).collect();
        assert_eq!(targets, ["/x", "/y"]);
    }

    #[test]
    fn a_skipped_element_and_a_cut_end_are_named_in_the_format_s_words() {
        let mut c = crate::ingest::Collect::default();
        let doc =
            r#"[{"status":"COMPLETE","request":7},{"status":"COMPLETE","method":"GET","host":"a","path":"/"},{"x"#;
        let s =
            read_session::<Charles>(&Document::new(doc.as_bytes()), Path::new("t"), &ReadOptions::default(), &mut c)
                .expect("one transaction is readable");
        assert_eq!(s.exchanges, 1);
        assert_eq!(c.exchanges[0].seq, 0);
        assert_eq!(c.exchanges[0].provenance.entry, Some(1));
        let codes: Vec<&str> = c.diagnostics.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(codes, ["charles.transaction_broken", "charles.truncated"]);
        assert_eq!(c.diagnostics[0].location.as_deref(), Some("transaction 0 (byte 1)"));
        assert_eq!(s.counters[..2], [("transactions".to_string(), 2), ("transactions skipped".to_string(), 1)]);
    }

    #[test]
    fn millions_of_broken_elements_cost_one_diagnostic_each_only_up_to_the_cap() {
        let mut c = crate::ingest::Collect::default();
        let n = 250u64;
        let doc = format!("[{}]", vec![r#"{"status":"COMPLETE","request":7}"#; n as usize].join(","));
        let s =
            read_session::<Charles>(&Document::new(doc.as_bytes()), Path::new("t"), &ReadOptions::default(), &mut c)
                .expect("an array of broken transactions still reads");
        assert_eq!(s.exchanges, 0);
        assert_eq!(s.counters[1], ("transactions skipped".to_string(), n));
        assert_eq!(c.diagnostics.len() as u64, MAX_SKIP_DIAGNOSTICS + 1);
        let last = c.diagnostics.last().unwrap();
        assert!(last.message.contains("150 more transactions skipped"), "{}", last.message);
    }
}
