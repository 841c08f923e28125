//! The numbers that name what is indexed: a chunk ([`ChunkKey`]) and the
//! file it belongs to ([`FileNo`]), both handed out by the caller.

use serde::{Deserialize, Serialize};

/// One chunk of one file, unique within a knowledge base. The caller maps
/// it to the file's OpenAI id and the chunk's ordinal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ChunkKey(pub u64);

/// One file of a knowledge base: a dense number (0, 1, 2, ...) handed out
/// by the caller, so that a set of them fits in a small bitset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FileNo(pub u32);
