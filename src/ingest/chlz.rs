//! Charles 5 sessions (`.chlz`): a ZIP archive holding, per transaction `N`, `N-meta.json`
//! (the transaction as in a JSON session, see [`super::charles`]) and its bodies as files
//! `N-req.*` and `N-res.*`. The archive is turned into a JSON session (transactions in `N`
//! order, each body file attached base64-encoded unless the metadata already holds a body) and
//! read by the Charles reader, so both formats map to exchanges the same way. A damaged member
//! skips its transaction with a diagnostic; the others are kept.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::path::Path;

use base64::Engine as _;

use super::document::Document;
use super::{IngestError, ReadOptions, ReadSummary, Sink};
use crate::model::{Diagnostic, Severity};

/// Largest member read (a body or a metadata file); larger ones are skipped with a note.
const MAX_MEMBER: u64 = 1 << 30;

/// One transaction's members.
#[derive(Default)]
struct Parts {
    meta: Option<Vec<u8>>,
    req: Option<Vec<u8>>,
    res: Option<Vec<u8>>,
}

/// Read a `.chlz` archive into `sink`.
///
/// # Errors
/// [`IngestError::Damaged`] when the bytes are no readable ZIP archive.
pub fn read_chlz(
    doc: &Document<'_>,
    path: &Path,
    opts: &ReadOptions,
    sink: &mut dyn Sink,
) -> Result<ReadSummary, IngestError> {
    let damaged = |why: String| IngestError::Damaged { path: path.to_path_buf(), place: "ZIP archive".into(), why };
    let mut zip = zip::ZipArchive::new(Cursor::new(doc.data)).map_err(|e| damaged(e.to_string()))?;
    let mut parts: BTreeMap<u64, Parts> = BTreeMap::new();
    let mut notes = Vec::new();
    for i in 0..zip.len() {
        let mut f = match zip.by_index(i) {
            Ok(f) => f,
            Err(e) => {
                notes.push(format!("archive member {i}: {e}"));
                continue;
            }
        };
        let name = f.name().rsplit('/').next().unwrap_or_default().to_string();
        let Some((n, kind)) = member(&name) else { continue };
        if f.size() > MAX_MEMBER {
            notes.push(format!("{name}: larger than 1 GiB, skipped"));
            continue;
        }
        let mut buf = Vec::with_capacity(usize::try_from(f.size()).unwrap_or(0).min(1 << 24));
        if let Err(e) = f.read_to_end(&mut buf) {
            notes.push(format!("{name}: {e}"));
            continue;
        }
        let p = parts.entry(n).or_default();
        match kind {
            Kind::Meta => p.meta = Some(buf),
            Kind::Req => p.req = Some(buf),
            Kind::Res => p.res = Some(buf),
        }
    }
    let json = session_json(parts, &mut notes);
    let mut s = super::charles::read_charles(&Document::new(json.as_bytes()), path, opts, sink)?;
    s.format = Some(super::detect::InputFormat::CharlesZip);
    for n in notes {
        let d = Diagnostic::new(Severity::Warning, "chlz.member", n).at(path.display().to_string());
        sink.diagnostic(&d);
    }
    Ok(s)
}

enum Kind {
    Meta,
    Req,
    Res,
}

/// `N-meta.json`, `N-req.ext`, `N-res.ext` → (N, kind).
fn member(name: &str) -> Option<(u64, Kind)> {
    let (n, rest) = name.split_once('-')?;
    let n = n.parse().ok()?;
    let kind = if rest == "meta.json" {
        Kind::Meta
    } else if rest == "req" || rest.starts_with("req.") {
        Kind::Req
    } else if rest == "res" || rest.starts_with("res.") {
        Kind::Res
    } else {
        return None;
    };
    Some((n, kind))
}

/// The transactions as one JSON session array, bodies attached.
fn session_json(parts: BTreeMap<u64, Parts>, notes: &mut Vec<String>) -> String {
    let mut out = Vec::with_capacity(parts.len());
    for (n, p) in parts {
        let Some(meta) = p.meta else {
            notes.push(format!("transaction {n}: body files without {n}-meta.json, skipped"));
            continue;
        };
        let mut t: serde_json::Value = match serde_json::from_slice(&meta) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            Ok(_) => {
                notes.push(format!("{n}-meta.json: not a JSON object, skipped"));
                continue;
            }
            Err(e) => {
                notes.push(format!("{n}-meta.json: {e}, skipped"));
                continue;
            }
        };
        attach(&mut t, "request", p.req);
        attach(&mut t, "response", p.res);
        out.push(t);
    }
    serde_json::Value::Array(out).to_string()
}

/// Put a body file into `t[side].body` (base64) unless the metadata has a body already.
fn attach(t: &mut serde_json::Value, side: &str, body: Option<Vec<u8>>) {
    let Some(body) = body else { return };
    let Some(obj) = t.as_object_mut() else { return };
    let msg = obj.entry(side).or_insert_with(|| serde_json::json!({}));
    let Some(msg) = msg.as_object_mut() else { return };
    if msg.get("body").is_some_and(|b| !b.is_null()) {
        return;
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(&body);
    msg.insert("body".into(), serde_json::json!({"encoding": "base64", "encoded": encoded}));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_give_the_transaction_number_and_kind() {
        assert!(matches!(member("12-meta.json"), Some((12, Kind::Meta))));
        assert!(matches!(member("3-req.json"), Some((3, Kind::Req))));
        assert!(matches!(member("3-res.html"), Some((3, Kind::Res))));
        assert!(member("index.json").is_none());
        assert!(member("x-meta.json").is_none());
    }
}
