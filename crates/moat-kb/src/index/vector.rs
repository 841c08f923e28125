//! The vector index ([`VectorIndex`]): exact cosine search over unit-length
//! f32 vectors kept in one contiguous array, and its compact stored form.
//!
//! Stored form (little-endian): magic `MOATVEC\0`, version `u32` (1),
//! dimensions `u32`, count `u64`, then per vector its key `u64`, file `u32`
//! and `dimensions` × `f32`. Reading checks every field and grows its
//! arrays only as vectors actually arrive, so a header that lies cannot
//! make it allocate more than the input holds.

use std::io::{ErrorKind, Read, Write};

use super::allowed::AllowedFiles;
use super::error::IndexError;
use super::graph::{Graph, Rows};
use super::ids::{ChunkKey, FileNo};
use super::top::TopChunks;

/// Most dimensions a vector may have.
pub const MAX_DIMS: usize = 8192;

/// Most vectors one index holds.
pub const MAX_VECTORS: usize = 1 << 24;

const MAGIC: &[u8; 8] = b"MOATVEC\0";
const VERSION: u32 = 1;
const HEADER_BYTES: usize = 8 + 4 + 4 + 8;

/// Bytes of vectors read at a time (at least one vector), so at most this
/// is allocated before the input shows it holds more.
const READ_BATCH_BYTES: usize = 1 << 20;

/// From this many vectors on, a search uses the graph when there is one.
/// Below, a scan is about as fast (20k x 384: 2.2 ms scan, 2.4 ms graph)
/// and exact; at 100k x 384 a scan takes about 14 ms on one core.
pub const APPROXIMATE_FROM: usize = 100_000;

/// Candidates a graph search keeps (at least `k`).
pub const GRAPH_EF_SEARCH: usize = 320;

/// A graph search is used only when at least 1 in this many vectors
/// belongs to an allowed file; with fewer, scanning them is faster.
const GRAPH_MIN_ALLOWED_SHARE: usize = 8;

/// Unit-length vectors of one dimension, each with its chunk and file,
/// with an optional HNSW graph over them for approximate search.
#[derive(Debug, Clone)]
pub struct VectorIndex {
    dims: usize,
    keys: Vec<ChunkKey>,
    files: Vec<FileNo>,
    /// Vector `i` is `data[i * dims..(i + 1) * dims]`.
    data: Vec<f32>,
    /// Built on request, extended by `add`, dropped by `remove_file`.
    graph: Option<Graph>,
    /// From this many vectors on, searches use the graph when there is one.
    approximate_from: usize,
}

/// Equal when they hold the same vectors; the graph is derived data.
impl PartialEq for VectorIndex {
    fn eq(&self, other: &Self) -> bool {
        self.dims == other.dims
            && self.keys == other.keys
            && self.files == other.files
            && self.data == other.data
    }
}

impl VectorIndex {
    /// An empty index of `dims`-dimensional vectors (1..=[`MAX_DIMS`]).
    pub fn new(dims: usize) -> Result<Self, IndexError> {
        if dims == 0 || dims > MAX_DIMS {
            return Err(IndexError::DimensionsOutOfRange {
                got: dims,
                max: MAX_DIMS,
            });
        }
        Ok(Self {
            dims,
            keys: Vec::new(),
            files: Vec::new(),
            data: Vec::new(),
            graph: None,
            approximate_from: APPROXIMATE_FROM,
        })
    }

    /// Searches use the graph from `count` vectors on (default
    /// [`APPROXIMATE_FROM`]).
    pub fn set_approximate_from(&mut self, count: usize) {
        self.approximate_from = count;
    }

    /// The size from which searches use the graph.
    pub fn approximate_from(&self) -> usize {
        self.approximate_from
    }

    /// The dimensions of its vectors.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Number of vectors held.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether it holds no vector.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Adds the vector of chunk `key` of `file`, scaled to unit length.
    /// Keys are the caller's to keep unique.
    pub fn add(&mut self, key: ChunkKey, file: FileNo, vector: &[f32]) -> Result<(), IndexError> {
        if self.len() >= MAX_VECTORS {
            return Err(IndexError::Full { max: MAX_VECTORS });
        }
        let norm = self.checked_norm(vector)?;
        self.data.extend(unit(vector, norm));
        self.keys.push(key);
        self.files.push(file);
        if let Some(graph) = &mut self.graph {
            graph.insert(Rows {
                data: &self.data,
                dims: self.dims,
            });
        }
        Ok(())
    }

    /// Builds the HNSW graph that searches use from [`APPROXIMATE_FROM`]
    /// vectors on (about 7 s per 10k vectors of 384 dimensions on one
    /// core, more per vector as the graph grows: build it on a clone, off
    /// the request path, and swap it in). Later `add`s extend
    /// it; `remove_file` drops it, and searches scan until it is rebuilt.
    /// It is not part of the stored form.
    pub fn build_graph(&mut self) {
        self.graph = Some(Graph::build(self.rows()));
    }

    /// Whether a graph is built.
    pub fn has_graph(&self) -> bool {
        self.graph.is_some()
    }

    fn rows(&self) -> Rows<'_> {
        Rows {
            data: &self.data,
            dims: self.dims,
        }
    }

    /// Removes every vector of `file`; returns how many there were.
    pub fn remove_file(&mut self, file: FileNo) -> usize {
        let dims = self.dims;
        let mut kept = 0;
        for row in 0..self.keys.len() {
            if self.files[row] == file {
                continue;
            }
            if kept != row {
                self.data
                    .copy_within(row * dims..(row + 1) * dims, kept * dims);
                self.keys[kept] = self.keys[row];
                self.files[kept] = self.files[row];
            }
            kept += 1;
        }
        let removed = self.keys.len() - kept;
        if removed > 0 {
            self.graph = None;
        }
        self.keys.truncate(kept);
        self.files.truncate(kept);
        self.data.truncate(kept * dims);
        removed
    }

    /// The `k` vectors of `allowed` files most similar to `query` (cosine,
    /// -1..=1), best first, equal scores by smaller key: exact by a scan,
    /// or approximate through the graph when there is one, the index holds
    /// at least [`approximate_from`](Self::approximate_from) vectors and enough of them are
    /// allowed. Vectors of other files are never returned; a scan skips
    /// them before comparing.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        allowed: &AllowedFiles,
    ) -> Result<Vec<(ChunkKey, f32)>, IndexError> {
        let norm = self.checked_norm(query)?;
        let query: Vec<f32> = unit(query, norm).collect();
        if k == 0 {
            return Ok(Vec::new());
        }
        if let Some(graph) = &self.graph {
            let usable = graph.len() == self.len() && self.len() >= self.approximate_from;
            if usable && self.mostly_allowed(allowed) {
                return Ok(self.search_graph(graph, &query, k, allowed));
            }
        }
        Ok(self.search_exact(&query, k, allowed))
    }

    /// Whether enough vectors belong to allowed files for a graph search.
    fn mostly_allowed(&self, allowed: &AllowedFiles) -> bool {
        let count = self.files.iter().filter(|f| allowed.contains(**f)).count();
        count.saturating_mul(GRAPH_MIN_ALLOWED_SHARE) >= self.len()
    }

    /// Through the graph; `query` is of unit length.
    fn search_graph(
        &self,
        graph: &Graph,
        query: &[f32],
        k: usize,
        allowed: &AllowedFiles,
    ) -> Vec<(ChunkKey, f32)> {
        let accept = |row: u32| {
            self.files
                .get(row as usize)
                .is_some_and(|file| allowed.contains(*file))
        };
        let ef = k.max(GRAPH_EF_SEARCH);
        let mut top = TopChunks::new(k);
        for (row, sim) in graph.search(self.rows(), query, ef, accept) {
            if let Some(key) = self.keys.get(row as usize) {
                top.push(*key, sim);
            }
        }
        top.into_sorted()
    }

    /// By a scan; `query` is of unit length.
    fn search_exact(
        &self,
        query: &[f32],
        k: usize,
        allowed: &AllowedFiles,
    ) -> Vec<(ChunkKey, f32)> {
        let mut top = TopChunks::new(k);
        let rows = self.data.chunks_exact(self.dims);
        for ((row, key), file) in rows.zip(&self.keys).zip(&self.files) {
            if allowed.contains(*file) {
                top.push(*key, dot(row, query));
            }
        }
        top.into_sorted()
    }

    /// The length of `vector`, once it is checked: of the index's
    /// dimensions, finite, not all zeros.
    fn checked_norm(&self, vector: &[f32]) -> Result<f64, IndexError> {
        if vector.len() != self.dims {
            return Err(IndexError::Dimensions {
                expected: self.dims,
                got: vector.len(),
            });
        }
        if !vector.iter().all(|v| v.is_finite()) {
            return Err(IndexError::NonFinite);
        }
        // In f64: squares of large f32 overflow f32, those of tiny ones
        // vanish.
        let norm = vector
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
            .sqrt();
        if norm == 0.0 {
            return Err(IndexError::ZeroVector);
        }
        Ok(norm)
    }

    /// Writes the stored form (see the module's documentation). Write to a
    /// new file and rename it over the old one to replace it safely.
    pub fn write_to(&self, mut out: impl Write) -> Result<(), IndexError> {
        let mut header = Vec::with_capacity(HEADER_BYTES);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&VERSION.to_le_bytes());
        header.extend_from_slice(&(self.dims as u32).to_le_bytes());
        header.extend_from_slice(&(self.len() as u64).to_le_bytes());
        out.write_all(&header)?;
        let mut row_bytes = Vec::with_capacity(self.row_bytes());
        let rows = self.data.chunks_exact(self.dims);
        for ((row, key), file) in rows.zip(&self.keys).zip(&self.files) {
            row_bytes.clear();
            row_bytes.extend_from_slice(&key.0.to_le_bytes());
            row_bytes.extend_from_slice(&file.0.to_le_bytes());
            for value in row {
                row_bytes.extend_from_slice(&value.to_le_bytes());
            }
            out.write_all(&row_bytes)?;
        }
        out.flush()?;
        Ok(())
    }

    /// Reads the stored form back, checking it: a wrong magic or version,
    /// dimensions or count out of range, a non-finite value, missing
    /// vectors or bytes after the last one are errors.
    pub fn read_from(mut input: impl Read) -> Result<Self, IndexError> {
        let mut header = [0u8; HEADER_BYTES];
        read_all(&mut input, &mut header, "header")?;
        let (magic, rest) = header.split_at(8);
        if magic != MAGIC {
            return Err(format_error("not a vector index (wrong magic)"));
        }
        let version = u32::from_le_bytes(le_bytes(&rest[0..4]));
        if version != VERSION {
            return Err(format_error(&format!(
                "version {version}, expected {VERSION}"
            )));
        }
        let dims = u32::from_le_bytes(le_bytes(&rest[4..8])) as usize;
        let count = u64::from_le_bytes(le_bytes(&rest[8..16]));
        let mut index = Self::new(dims)?;
        if count > MAX_VECTORS as u64 {
            return Err(format_error(&format!(
                "{count} vectors, more than {MAX_VECTORS}"
            )));
        }
        let count = count as usize;
        let row_bytes = index.row_bytes();
        let batch_rows = (READ_BATCH_BYTES / row_bytes).clamp(1, count.max(1));
        let mut batch = vec![0u8; row_bytes * batch_rows];
        let mut done = 0;
        while done < count {
            let rows = (count - done).min(batch_rows);
            let bytes = &mut batch[..rows * row_bytes];
            read_all(&mut input, bytes, "vectors")?;
            index.keys.reserve(rows);
            index.files.reserve(rows);
            index.data.reserve(rows * dims);
            for row in bytes.chunks_exact(row_bytes) {
                let (ids, values) = row.split_at(12);
                index
                    .keys
                    .push(ChunkKey(u64::from_le_bytes(le_bytes(&ids[..8]))));
                index
                    .files
                    .push(FileNo(u32::from_le_bytes(le_bytes(&ids[8..]))));
                for value in values.chunks_exact(4) {
                    let value = f32::from_le_bytes(le_bytes(value));
                    if !value.is_finite() {
                        return Err(format_error("a stored value is not finite"));
                    }
                    index.data.push(value);
                }
            }
            done += rows;
        }
        let mut extra = [0u8; 1];
        loop {
            match input.read(&mut extra) {
                Ok(0) => break,
                Ok(_) => {
                    return Err(format_error(&format!(
                        "bytes after the {count} vectors the header announces"
                    )))
                }
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Ok(index)
    }

    fn row_bytes(&self) -> usize {
        8 + 4 + 4 * self.dims
    }
}

/// `vector` divided by its length `norm`, in f64 so that neither a tiny
/// nor a huge length loses it.
fn unit(vector: &[f32], norm: f64) -> impl Iterator<Item = f32> + '_ {
    vector.iter().map(move |&v| (f64::from(v) / norm) as f32)
}

fn format_error(reason: &str) -> IndexError {
    IndexError::Format(reason.to_owned())
}

fn read_all(input: &mut impl Read, buf: &mut [u8], what: &str) -> Result<(), IndexError> {
    input.read_exact(buf).map_err(|error| {
        if error.kind() == ErrorKind::UnexpectedEof {
            format_error(&format!("truncated {what}"))
        } else {
            IndexError::Io(error)
        }
    })
}

/// The first `N` bytes of `bytes` (zeros where it is shorter, which the
/// callers' fixed splits rule out).
fn le_bytes<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = *b;
    }
    out
}

/// Lanes summed side by side: enough independent accumulators for the
/// compiler to keep several SIMD registers busy.
const LANES: usize = 16;

/// Dot product of two slices of equal length, written to vectorise.
#[inline]
pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let mut a_chunks = a.chunks_exact(LANES);
    let mut b_chunks = b.chunks_exact(LANES);
    for (x, y) in (&mut a_chunks).zip(&mut b_chunks) {
        for ((acc, x), y) in acc.iter_mut().zip(x).zip(y) {
            *acc += x * y;
        }
    }
    let mut tail = 0.0;
    for (x, y) in a_chunks.remainder().iter().zip(b_chunks.remainder()) {
        tail += x * y;
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
#[path = "vector_tests.rs"]
mod tests;
