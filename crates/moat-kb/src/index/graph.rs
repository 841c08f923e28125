//! An HNSW graph over a vector index's rows ([`Graph`]; Malkov & Yashunin,
//! 2016): approximate nearest neighbours in far fewer comparisons than a
//! full scan, for large indexes. Safe Rust, deterministic (fixed seed,
//! rows inserted in order), similarity = dot product of unit vectors.
//!
//! Filtered search walks the whole graph but keeps only accepted rows, so
//! a restrictive filter makes it slow, never wrong; the caller scans
//! instead when few rows are accepted.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::vector::dot;

/// Neighbours per node on the upper layers (twice that on layer 0).
const M: usize = 16;
/// Candidates kept while linking a new node.
const EF_CONSTRUCTION: usize = 128;
/// Highest layer a node may reach.
const MAX_LEVEL: usize = 16;

/// The graph: per node, per layer, the rows it links to.
#[derive(Debug, Clone, Default)]
pub(super) struct Graph {
    links: Vec<Vec<Vec<u32>>>,
    entry: Option<u32>,
    top: usize,
    seed: u64,
    /// Scratch for insertion, so that building does not allocate per node.
    visited: Visited,
}

/// Rows seen in one walk: a row is seen when its mark equals the stamp.
#[derive(Debug, Clone, Default)]
struct Visited {
    marks: Vec<u32>,
    stamp: u32,
}

impl Visited {
    fn with_len(len: usize) -> Self {
        Self {
            marks: vec![0; len],
            stamp: 1,
        }
    }

    /// Forgets every row, with room for `len`.
    fn reset(&mut self, len: usize) {
        if self.marks.len() < len {
            self.marks.resize(len, 0);
        }
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.marks.fill(0);
            self.stamp = 1;
        }
    }

    /// Marks `row`; whether it was new.
    fn insert(&mut self, row: u32) -> bool {
        match self.marks.get_mut(row as usize) {
            Some(mark) if *mark != self.stamp => {
                *mark = self.stamp;
                true
            }
            _ => false,
        }
    }
}

/// A row and its similarity to the query.
#[derive(Debug, Clone, Copy)]
struct Scored {
    row: u32,
    sim: f32,
}

/// Ordered by similarity, most similar greatest (then smaller row).
#[derive(Debug, Clone, Copy)]
struct Nearest(Scored);

/// Ordered by similarity, least similar greatest (then larger row).
#[derive(Debug, Clone, Copy)]
struct Farthest(Scored);

fn by_similarity(a: &Scored, b: &Scored) -> Ordering {
    a.sim.total_cmp(&b.sim).then(b.row.cmp(&a.row))
}

macro_rules! ordered_by {
    ($name:ident, |$a:ident, $b:ident| $cmp:expr) => {
        impl Ord for $name {
            fn cmp(&self, other: &Self) -> Ordering {
                let ($a, $b) = (&self.0, &other.0);
                $cmp
            }
        }
        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }
        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.cmp(other) == Ordering::Equal
            }
        }
        impl Eq for $name {}
    };
}

ordered_by!(Nearest, |a, b| by_similarity(a, b));
ordered_by!(Farthest, |a, b| by_similarity(b, a));

/// The rows of a vector index, as the graph reads them.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rows<'a> {
    pub data: &'a [f32],
    pub dims: usize,
}

impl<'a> Rows<'a> {
    fn row(&self, row: u32) -> &'a [f32] {
        let from = row as usize * self.dims;
        self.data.get(from..from + self.dims).unwrap_or(&[])
    }

    fn len(&self) -> usize {
        self.data.len() / self.dims.max(1)
    }
}

impl Graph {
    /// A graph over every row of `rows`.
    pub(super) fn build(rows: Rows<'_>) -> Self {
        let mut graph = Self {
            seed: 0x2545_f491_4f6c_dd1d,
            visited: Visited::with_len(rows.len()),
            ..Self::default()
        };
        for _ in 0..rows.len() {
            graph.insert(rows);
        }
        graph
    }

    /// Number of rows linked in.
    pub(super) fn len(&self) -> usize {
        self.links.len()
    }

    /// Links in the next row of `rows` (the graph's length).
    pub(super) fn insert(&mut self, rows: Rows<'_>) {
        let Ok(node) = u32::try_from(self.links.len()) else {
            return;
        };
        let level = self.random_level();
        let query = rows.row(node);
        self.links.push(vec![Vec::new(); level + 1]);
        let Some(entry) = self.entry else {
            self.entry = Some(node);
            self.top = level;
            return;
        };
        let mut visited = std::mem::take(&mut self.visited);
        let mut entries = vec![Scored {
            row: entry,
            sim: dot(query, rows.row(entry)),
        }];
        for layer in (level + 1..=self.top).rev() {
            entries = self.search_layer(rows, query, &entries, 1, layer, &mut visited, |_| true);
        }
        for layer in (0..=level.min(self.top)).rev() {
            let found = self.search_layer(
                rows,
                query,
                &entries,
                EF_CONSTRUCTION,
                layer,
                &mut visited,
                |_| true,
            );
            let chosen = select_neighbours(rows, &found, M);
            for neighbour in &chosen {
                self.link(rows, neighbour.row, node, layer);
            }
            if let Some(links) = self
                .links
                .get_mut(node as usize)
                .and_then(|l| l.get_mut(layer))
            {
                *links = chosen.iter().map(|s| s.row).collect();
            }
            entries = found;
        }
        self.visited = visited;
        if level > self.top {
            self.top = level;
            self.entry = Some(node);
        }
    }

    /// Adds `node` to `from`'s links on `layer`, pruning them to the most
    /// diverse when they are too many.
    fn link(&mut self, rows: Rows<'_>, from: u32, node: u32, layer: usize) {
        let max = if layer == 0 { 2 * M } else { M };
        let Some(links) = self
            .links
            .get_mut(from as usize)
            .and_then(|l| l.get_mut(layer))
        else {
            return;
        };
        links.push(node);
        if links.len() <= max {
            return;
        }
        let base = rows.row(from);
        let mut scored: Vec<Scored> = links
            .iter()
            .map(|&row| Scored {
                row,
                sim: dot(base, rows.row(row)),
            })
            .collect();
        scored.sort_by(|a, b| by_similarity(b, a));
        *links = select_neighbours(rows, &scored, max)
            .iter()
            .map(|s| s.row)
            .collect();
    }

    /// The `ef` accepted rows most similar to `query` found from `entries`
    /// on `layer`, most similar first. Rejected rows are walked through
    /// but not kept.
    #[allow(clippy::too_many_arguments)]
    fn search_layer(
        &self,
        rows: Rows<'_>,
        query: &[f32],
        entries: &[Scored],
        ef: usize,
        layer: usize,
        visited: &mut Visited,
        accept: impl Fn(u32) -> bool,
    ) -> Vec<Scored> {
        visited.reset(rows.len());
        let mut candidates: BinaryHeap<Nearest> = BinaryHeap::new();
        let mut kept: BinaryHeap<Farthest> = BinaryHeap::new();
        for entry in entries {
            if visited.insert(entry.row) {
                candidates.push(Nearest(*entry));
                if accept(entry.row) {
                    kept.push(Farthest(*entry));
                }
            }
        }
        while kept.len() > ef {
            kept.pop();
        }
        while let Some(Nearest(candidate)) = candidates.pop() {
            let worst = kept.peek().map(|f| f.0.sim);
            if kept.len() >= ef && worst.is_some_and(|w| candidate.sim < w) {
                break;
            }
            let links = self
                .links
                .get(candidate.row as usize)
                .and_then(|l| l.get(layer))
                .map_or(&[][..], Vec::as_slice);
            for &row in links {
                if !visited.insert(row) {
                    continue;
                }
                let sim = dot(query, rows.row(row));
                let worst = kept.peek().map(|f| f.0.sim);
                if kept.len() < ef || worst.is_some_and(|w| sim > w) {
                    let scored = Scored { row, sim };
                    candidates.push(Nearest(scored));
                    if accept(row) {
                        kept.push(Farthest(scored));
                        if kept.len() > ef {
                            kept.pop();
                        }
                    }
                }
            }
        }
        let mut found: Vec<Scored> = kept.into_iter().map(|f| f.0).collect();
        found.sort_by(|a, b| by_similarity(b, a));
        found
    }

    /// About the `ef` accepted rows most similar to `query`, most similar
    /// first, as `(row, similarity)`.
    pub(super) fn search(
        &self,
        rows: Rows<'_>,
        query: &[f32],
        ef: usize,
        accept: impl Fn(u32) -> bool,
    ) -> Vec<(u32, f32)> {
        let Some(entry) = self.entry else {
            return Vec::new();
        };
        let mut visited = Visited::with_len(rows.len());
        let mut entries = vec![Scored {
            row: entry,
            sim: dot(query, rows.row(entry)),
        }];
        for layer in (1..=self.top).rev() {
            entries = self.search_layer(rows, query, &entries, 1, layer, &mut visited, |_| true);
        }
        self.search_layer(rows, query, &entries, ef, 0, &mut visited, accept)
            .into_iter()
            .map(|s| (s.row, s.sim))
            .collect()
    }

    /// A level drawn so that each layer has about `1/M` of the one below.
    fn random_level(&mut self) -> usize {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        // Uniform in (0, 1].
        let uniform = ((self.seed >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let level = (-uniform.ln() / (M as f64).ln()).floor();
        (level as usize).min(MAX_LEVEL)
    }
}

/// Up to `m` of `candidates` (most similar first): each closer to the new
/// node than to any already chosen, so links point in many directions;
/// the closest of the others fill what is left.
fn select_neighbours(rows: Rows<'_>, candidates: &[Scored], m: usize) -> Vec<Scored> {
    let mut chosen: Vec<Scored> = Vec::with_capacity(m);
    let mut others: Vec<Scored> = Vec::new();
    for candidate in candidates {
        if chosen.len() >= m {
            break;
        }
        let vector = rows.row(candidate.row);
        let diverse = chosen
            .iter()
            .all(|c| dot(vector, rows.row(c.row)) < candidate.sim);
        if diverse {
            chosen.push(*candidate);
        } else {
            others.push(*candidate);
        }
    }
    for other in others {
        if chosen.len() >= m {
            break;
        }
        chosen.push(other);
    }
    chosen
}
