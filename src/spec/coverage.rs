//! Coverage: which operations the traffic called and which it never did, the response
//! codes seen per operation (and documented ones never seen), and documented parameters
//! never used.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Spec;

/// Coverage of one operation.
#[derive(Debug, Clone, Serialize)]
pub struct OpCoverage {
    /// `GET /v1/orders/{id}`.
    pub endpoint: String,
    /// `operationId`.
    pub operation_id: Option<String>,
    /// Marked deprecated.
    pub deprecated: bool,
    /// Exchanges routed to it.
    pub calls: u64,
    /// Status code → count.
    pub statuses: BTreeMap<u16, u64>,
    /// Documented response codes no exchange produced (`default` excluded).
    pub responses_not_seen: Vec<String>,
    /// Documented parameters never sent (`query limit`).
    pub params_never_used: Vec<String>,
}

/// Coverage of the whole spec.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Coverage {
    /// Operations in the spec.
    pub operations_total: usize,
    /// Operations called at least once.
    pub operations_called: usize,
    /// Per operation, in spec order.
    pub operations: Vec<OpCoverage>,
}

/// Accumulates coverage while exchanges stream by.
#[derive(Debug, Clone, Default)]
pub struct CoverageAcc {
    calls: Vec<u64>,
    statuses: Vec<BTreeMap<u16, u64>>,
    params: Vec<Vec<u64>>,
}

impl CoverageAcc {
    /// Sized for `spec`.
    #[must_use]
    pub fn new(spec: &Spec) -> Self {
        Self {
            calls: vec![0; spec.operations.len()],
            statuses: vec![BTreeMap::new(); spec.operations.len()],
            params: spec.operations.iter().map(|o| vec![0; o.parameters.len()]).collect(),
        }
    }

    /// Record one exchange routed to operation `op`.
    pub fn record(&mut self, op: usize, status: Option<u16>, params_used: &[usize]) {
        if let Some(c) = self.calls.get_mut(op) {
            *c += 1;
        }
        if let (Some(s), Some(m)) = (status, self.statuses.get_mut(op)) {
            *m.entry(s).or_default() += 1;
        }
        if let Some(p) = self.params.get_mut(op) {
            for i in params_used {
                if let Some(c) = p.get_mut(*i) {
                    *c += 1;
                }
            }
        }
    }

    /// The coverage report.
    #[must_use]
    pub fn finish(self, spec: &Spec) -> Coverage {
        let mut ops = Vec::new();
        for (i, op) in spec.operations.iter().enumerate() {
            let calls = self.calls.get(i).copied().unwrap_or(0);
            let statuses = self.statuses.get(i).cloned().unwrap_or_default();
            let responses_not_seen = op
                .responses
                .iter()
                .filter(|r| r.code != "DEFAULT")
                .filter(|r| {
                    let seen = |s: &u16| {
                        s.to_string() == r.code
                            || (r.code.len() == 3
                                && r.code.ends_with("XX")
                                && r.code.starts_with(&(s / 100).to_string()))
                    };
                    !statuses.keys().any(seen)
                })
                .map(|r| r.code.clone())
                .collect();
            let params_never_used = op
                .parameters
                .iter()
                .enumerate()
                .filter(|(pi, _)| self.params.get(i).and_then(|p| p.get(*pi)).copied().unwrap_or(0) == 0)
                .map(|(_, p)| format!("{} {}", p.location.as_str(), p.name))
                .collect();
            ops.push(OpCoverage {
                endpoint: op.name(),
                operation_id: op.operation_id.clone(),
                deprecated: op.deprecated,
                calls,
                statuses,
                responses_not_seen,
                params_never_used,
            });
        }
        Coverage {
            operations_total: ops.len(),
            operations_called: ops.iter().filter(|o| o.calls > 0).count(),
            operations: ops,
        }
    }
}
