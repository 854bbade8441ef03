//! Clustering undocumented traffic into inferred endpoints, so one missing
//! `DELETE /v1/orders/{id}` is one finding with a count, example URLs and the number of
//! distinct values — never one finding per URL. Two rules combine:
//! identifier-like segments (numbers, UUIDs, hex, mixed tokens) become `{id}` per URL
//! ([`super::infer::infer_template`]); then a per-position cardinality rule merges sibling
//! templates that differ only at one position where many distinct literal values occur
//! under the same prefix (`/v1/stocks/AAPL`, `/v1/stocks/MSFT`, … → `/v1/stocks/{param}`).
//! The first segment is never merged (scanners' `/.env`, `/admin`, `/robots.txt` stay apart).

use std::collections::{HashMap, HashSet};

/// Distinct literal values at one position (same prefix and suffix) that make it a parameter.
pub const MIN_DISTINCT: usize = 8;

/// For each input template (`/a/b/c`, already through `infer_template`), the merged template.
/// Output has the same length and order as the input.
#[must_use]
pub fn cluster_templates(templates: &[String]) -> Vec<String> {
    let mut cur: Vec<Vec<String>> = templates.iter().map(|t| t.split('/').map(str::to_string).collect()).collect();
    let max_len = cur.iter().map(Vec::len).max().unwrap_or(0);
    // segment 0 is the empty string before the leading '/', segment 1 the first real one.
    for pos in 2..max_len {
        // group by (length, every segment except `pos`)
        let mut groups: HashMap<(usize, Vec<&str>), HashSet<&str>> = HashMap::new();
        for segs in &cur {
            if segs.len() <= pos || segs[pos].starts_with('{') {
                continue;
            }
            let key: Vec<&str> = segs.iter().enumerate().filter(|(i, _)| *i != pos).map(|(_, s)| s.as_str()).collect();
            groups.entry((segs.len(), key)).or_default().insert(segs[pos].as_str());
        }
        let merge: HashSet<(usize, Vec<String>)> = groups
            .into_iter()
            .filter(|(_, vals)| vals.len() >= MIN_DISTINCT)
            .map(|((n, k), _)| (n, k.into_iter().map(str::to_string).collect()))
            .collect();
        if merge.is_empty() {
            continue;
        }
        for segs in &mut cur {
            if segs.len() <= pos || segs[pos].starts_with('{') {
                continue;
            }
            let key: Vec<String> = segs.iter().enumerate().filter(|(i, _)| *i != pos).map(|(_, s)| s.clone()).collect();
            if merge.contains(&(segs.len(), key)) {
                segs[pos] = "{param}".to_string();
            }
        }
    }
    cur.into_iter().map(|s| s.join("/")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_literals_at_one_position_merge() {
        let mut t: Vec<String> = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "META", "TSLA", "AMD", "INTC"]
            .iter()
            .map(|s| format!("/v1/stocks/{s}"))
            .collect();
        t.push("/v1/stocks".into());
        let out = cluster_templates(&t);
        assert!(out[..9].iter().all(|s| s == "/v1/stocks/{param}"), "{out:?}");
        assert_eq!(out[9], "/v1/stocks");
    }

    #[test]
    fn first_segment_and_few_siblings_stay_literal() {
        let t: Vec<String> = [
            "/.env",
            "/admin",
            "/robots.txt",
            "/favicon.ico",
            "/swagger.json",
            "/server-status",
            "/wp-login.php",
            "/x",
            "/y",
        ]
        .iter()
        .map(|s| (*s).to_string())
        .collect();
        assert_eq!(cluster_templates(&t), t);
        let few: Vec<String> = ["/v1/a", "/v1/b", "/v1/c"].iter().map(|s| (*s).to_string()).collect();
        assert_eq!(cluster_templates(&few), few);
    }
}
