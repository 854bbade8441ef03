//! Pattern flags per client, as the filter term `~flag` and the TUI's client detail read
//! them: one analysis of the whole input (the same analyzer `apiscope stats` runs), then a
//! table from client identity to its flags and their explanations.

use std::collections::HashMap;

use super::patterns::PatternKind;
use super::report::Report;
use super::{Analyzer, Config, SpecNamer};
use crate::spec::Spec;

/// The analyzer `apiscope stats` runs with default thresholds: spec operation names when a
/// spec is given, else learnt templates.
#[must_use]
pub fn analyzer(spec: Option<&Spec>) -> Analyzer<'_> {
    match spec {
        Some(s) => Analyzer::new(Config::default(), Box::new(SpecNamer(s))),
        None => Analyzer::learning(Config::default()),
    }
}

/// Client identity → its behaviour flags with the explanation of each finding.
#[derive(Debug, Clone, Default)]
pub struct ClientFlags {
    by_client: HashMap<String, Vec<(PatternKind, String)>>,
}

impl ClientFlags {
    /// The flags of a report: every finding about a client's behaviour (not the slowest
    /// exchanges), keyed by the finding's client.
    #[must_use]
    pub fn from_report(r: &Report) -> Self {
        let mut by_client: HashMap<String, Vec<(PatternKind, String)>> = HashMap::new();
        for f in r.findings.iter().filter(|f| f.kind.is_client_behaviour()) {
            by_client.entry(f.client.clone()).or_default().push((f.kind, f.explanation.clone()));
        }
        Self { by_client }
    }

    /// The `~flag` names of `client` (`scanner`, `retry_storm`, …), each once.
    #[must_use]
    pub fn tags(&self, client: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (k, _) in self.findings(client) {
            if !out.iter().any(|t| t == k.tag()) {
                out.push(k.tag().to_string());
            }
        }
        out
    }

    /// The findings of `client`: kind and explanation, in report order.
    #[must_use]
    pub fn findings(&self, client: &str) -> &[(PatternKind, String)] {
        self.by_client.get(client).map_or(&[], Vec::as_slice)
    }

    /// Flagged clients.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_client.len()
    }

    /// True when no client is flagged.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_client.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Sink as _;
    use crate::model::Exchange;

    #[test]
    fn flags_come_from_client_findings_not_from_the_slowest_list() {
        let mut a = analyzer(None);
        for i in 0..30i64 {
            let mut ex = Exchange::builder("GET", &format!("/junk{}", i % 6))
                .status(404)
                .header("User-Agent", "zgrab")
                .timing(crate::model::Timing {
                    request_start: Some(i * 1_000_000),
                    request_end: Some(i * 1_000_000),
                    response_start: Some(i * 1_000_000 + 500),
                    response_end: Some(i * 1_000_000 + 600),
                })
                .build();
            ex.seq = i as u64;
            a.exchange(&ex);
        }
        let r = a.finish();
        let flags = ClientFlags::from_report(&r);
        let id = &r.clients[0].id;
        assert_eq!(flags.tags(id), vec!["scanner".to_string(), "no_credentials".to_string()]);
        assert!(flags.findings(id)[0].1.contains("404/405"));
        assert!(flags.tags("nobody").is_empty());
    }
}
