//! When recognizers claim overlapping text, one finding stays: the longer,
//! then the more confident, then the higher-ranked kind, then the earlier.

use std::cmp::Ordering;

use crate::finding::Finding;

/// Findings sorted by start with no two overlapping.
pub fn resolve(mut found: Vec<Finding>) -> Vec<Finding> {
    found.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut kept = Vec::with_capacity(found.len());
    let mut cluster: Vec<Finding> = Vec::new();
    let mut cluster_end = 0;
    for f in found {
        if !cluster.is_empty() && f.start >= cluster_end {
            settle(&mut cluster, &mut kept);
        }
        cluster_end = if cluster.is_empty() {
            f.end
        } else {
            cluster_end.max(f.end)
        };
        cluster.push(f);
    }
    settle(&mut cluster, &mut kept);
    kept
}

/// Which of two findings is kept first.
fn better(a: &Finding, b: &Finding) -> Ordering {
    b.len()
        .cmp(&a.len())
        .then(b.confidence.cmp(&a.confidence))
        .then(b.kind.rank().cmp(&a.kind.rank()))
        .then(a.start.cmp(&b.start))
}

/// Keeps the best findings of one cluster of overlapping ones.
fn settle(cluster: &mut Vec<Finding>, kept: &mut Vec<Finding>) {
    if cluster.len() == 1 {
        kept.append(cluster);
        return;
    }
    cluster.sort_by(better);
    let mut chosen: Vec<Finding> = Vec::new();
    for f in cluster.drain(..) {
        if chosen.iter().all(|c| f.end <= c.start || c.end <= f.start) {
            chosen.push(f);
        }
    }
    chosen.sort_by_key(|f| f.start);
    kept.append(&mut chosen);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::{Confidence, Kind};

    fn f(kind: Kind, start: usize, end: usize, confidence: Confidence) -> Finding {
        Finding::new(kind, start, end, confidence, String::new())
    }

    #[test]
    fn longer_then_stronger_wins() {
        let out = resolve(vec![
            f(Kind::Mobile, 0, 11, Confidence::Medium),
            f(Kind::Email, 0, 19, Confidence::High),
            f(Kind::BankCard, 30, 48, Confidence::High),
            f(Kind::IdCard, 30, 48, Confidence::High),
            f(Kind::Ipv4, 50, 60, Confidence::High),
        ]);
        let kinds: Vec<Kind> = out.iter().map(|f| f.kind.clone()).collect();
        assert_eq!(kinds, vec![Kind::Email, Kind::IdCard, Kind::Ipv4]);
    }

    #[test]
    fn a_chain_of_overlaps_keeps_what_fits() {
        let out = resolve(vec![
            f(Kind::Mobile, 0, 10, Confidence::Medium),
            f(Kind::Mobile, 8, 20, Confidence::Medium),
            f(Kind::Mobile, 18, 28, Confidence::Medium),
        ]);
        let spans: Vec<(usize, usize)> = out.iter().map(|f| (f.start, f.end)).collect();
        assert_eq!(spans, vec![(8, 20)]);
    }
}
