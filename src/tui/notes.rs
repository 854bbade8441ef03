//! Marks and comments that outlive the program: one small JSON file per set of inputs in
//! the config directory (`notes/KEY.json`, [`super::config::notes_path`]). `KEY` is the
//! inputs' identity: a hash of each input's canonical path, size and modification time, so
//! reopening the same capture finds its notes and a changed file starts clean. Each note
//! names its flow by number and by what the flow is (method, target, start time); a note
//! whose flow no longer looks the same is not applied.

use std::path::{Path, PathBuf};

use super::config::{self, ConfigError};
use crate::store::{FlowId, FlowStore};

/// One flow's note.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Note {
    /// The flow's number in load order.
    pub flow: FlowId,
    /// Its method (checked when applying).
    pub method: String,
    /// Its request target (checked when applying).
    pub target: String,
    /// Its request start on the capture clock, when known (checked when applying).
    #[serde(default)]
    pub start: Option<i64>,
    /// Marked.
    #[serde(default)]
    pub marked: bool,
    /// The user's comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// The file's content.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NotesFile {
    /// The inputs, for whoever reads the file.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// Notes, by flow number.
    #[serde(default)]
    pub notes: Vec<Note>,
}

/// The identity of a set of inputs: a hex hash of each one's canonical path, size and
/// modification time. None when an input is standard input or cannot be looked at.
#[must_use]
pub fn identity(paths: &[PathBuf]) -> Option<String> {
    if paths.is_empty() {
        return None;
    }
    let mut text = String::new();
    for p in paths {
        if p.as_os_str() == "-" {
            return None;
        }
        let canon = std::fs::canonicalize(p).ok()?;
        let md = std::fs::metadata(&canon).ok()?;
        let mtime = md.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).unwrap_or_default();
        text.push_str(&format!(
            "{}\u{0}{}\u{0}{}.{:09}\n",
            canon.display(),
            md.len(),
            mtime.as_secs(),
            mtime.subsec_nanos()
        ));
    }
    Some(format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes())))
}

/// Where the notes of one set of inputs are kept, and whether they were applied yet.
#[derive(Debug, Clone)]
pub struct NotesStore {
    path: PathBuf,
    inputs: Vec<String>,
    /// The saved notes were applied to the store (saving before that would lose them).
    applied: bool,
}

impl NotesStore {
    /// The notes of `paths` (None when they have no identity or there is no config dir).
    #[must_use]
    pub fn for_inputs(paths: &[PathBuf]) -> Option<Self> {
        let key = identity(paths)?;
        let path = config::notes_path(&key)?;
        Some(Self::at(path, paths))
    }

    /// Notes kept at `path` (tests).
    #[must_use]
    pub fn at(path: PathBuf, inputs: &[PathBuf]) -> Self {
        Self { path, inputs: inputs.iter().map(|p| p.display().to_string()).collect(), applied: false }
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Apply the saved notes to `store` (marks added, comments set where the user wrote none
    /// this run); returns how many were applied. Then saves the union.
    ///
    /// # Errors
    /// The file exists but cannot be read or understood, or the union cannot be written.
    pub fn restore(&mut self, store: &mut FlowStore) -> Result<usize, ConfigError> {
        let text = config::read_optional(&self.path)?;
        self.applied = true;
        let Some(text) = text else { return Ok(0) };
        let file: NotesFile = serde_json::from_str(&text).map_err(|e| ConfigError::Syntax {
            path: self.path.clone(),
            line: e.line(),
            why: e.to_string(),
        })?;
        let mut n = 0;
        for note in &file.notes {
            if !same_flow(store, note) {
                continue;
            }
            if note.marked && !store.meta(note.flow).marked {
                store.toggle_mark(note.flow);
            }
            if let Some(c) = &note.comment
                && !store.user_comments().contains_key(&note.flow)
            {
                store.set_comment(note.flow, c);
            }
            n += 1;
        }
        self.save(store)?;
        Ok(n)
    }

    /// Write the store's marks and user comments (nothing before [`Self::restore`] ran, so
    /// an early mark does not overwrite the saved ones). An empty set removes the file.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn save(&self, store: &FlowStore) -> Result<(), ConfigError> {
        if !self.applied {
            return Ok(());
        }
        let file = collect(store, &self.inputs);
        if file.notes.is_empty() {
            return match std::fs::remove_file(&self.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(ConfigError::Io { path: self.path.clone(), source: e })
                }
                _ => Ok(()),
            };
        }
        let text = serde_json::to_string_pretty(&file).unwrap_or_default();
        config::write(&self.path, &text)
    }
}

/// The flow `note` names still looks as it did.
fn same_flow(store: &FlowStore, note: &Note) -> bool {
    let Some(row) = store.row(note.flow) else { return false };
    store.str(row.method) == note.method
        && store.str(row.path) == note.target
        && crate::store::Row::opt(row.start) == note.start
}

/// The notes of `store`: every marked flow and every user comment.
#[must_use]
pub fn collect(store: &FlowStore, inputs: &[String]) -> NotesFile {
    let mut ids: Vec<FlowId> = store.marked();
    ids.extend(store.user_comments().iter().filter(|(_, c)| !c.is_empty()).map(|(id, _)| *id));
    ids.sort_unstable();
    ids.dedup();
    let notes = ids
        .into_iter()
        .filter_map(|id| {
            let row = store.row(id)?;
            Some(Note {
                flow: id,
                method: store.str(row.method).to_string(),
                target: store.str(row.path).to_string(),
                start: crate::store::Row::opt(row.start),
                marked: row.has(crate::store::F_MARKED),
                comment: store.user_comments().get(&id).filter(|c| !c.is_empty()).cloned(),
            })
        })
        .collect();
    NotesFile { inputs: inputs.to_vec(), notes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Exchange;

    fn store() -> FlowStore {
        let mut s = FlowStore::new();
        for i in 0..4i64 {
            let mut e = Exchange::default();
            e.request.method = "GET".into();
            e.request.target = format!("/items/{i}");
            e.timing.request_start = Some(i * 1000);
            s.push(e);
        }
        s
    }

    #[test]
    fn marks_and_comments_survive_a_reopen_of_the_same_flows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes").join("k.json");
        let mut first = NotesStore::at(path.clone(), &[]);
        let mut s = store();
        assert_eq!(first.restore(&mut s).unwrap(), 0);
        s.toggle_mark(1);
        s.toggle_mark(3);
        s.set_comment(2, "slow here");
        first.save(&s).unwrap();

        let mut again = store();
        let mut second = NotesStore::at(path.clone(), &[]);
        assert_eq!(second.restore(&mut again).unwrap(), 3);
        assert_eq!(again.marked(), vec![1, 3]);
        assert_eq!(again.comment(2), Some("slow here"));

        // Flows that changed are left alone.
        let mut other = FlowStore::new();
        let mut e = Exchange::default();
        e.request.method = "POST".into();
        e.request.target = "/items/1".into();
        other.push(e.clone());
        other.push(e);
        assert_eq!(NotesStore::at(path.clone(), &[]).restore(&mut other).unwrap(), 0);
        assert!(other.marked().is_empty());
    }

    #[test]
    fn nothing_is_saved_before_the_notes_were_applied() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        let mut s = store();
        s.toggle_mark(0);
        let mut n = NotesStore::at(path.clone(), &[]);
        n.restore(&mut s).unwrap();
        n.save(&s).unwrap();
        let mut fresh = store();
        fresh.toggle_mark(2);
        let early = NotesStore::at(path.clone(), &[]);
        early.save(&fresh).unwrap();
        let mut back = store();
        NotesStore::at(path, &[]).restore(&mut back).unwrap();
        assert_eq!(back.marked(), vec![0], "the early save wrote nothing");
    }

    #[test]
    fn identity_changes_with_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.har");
        std::fs::write(&f, "{}").unwrap();
        let a = identity(std::slice::from_ref(&f)).unwrap();
        assert_eq!(identity(std::slice::from_ref(&f)).unwrap(), a);
        std::fs::write(&f, "{ }").unwrap();
        assert_ne!(identity(std::slice::from_ref(&f)).unwrap(), a);
        assert!(identity(&[PathBuf::from("-")]).is_none());
    }
}
