//! moat's knowledge bases: documents extracted to structured text
//! (`extract`), cut into chunks that keep their title and heading path
//! (`chunk`), indexed by keyword (Chinese-aware) and by vector (`index`),
//! filtered by file attributes (`filter`) and retrieved with both fused
//! (`fuse`). No HTTP and no storage engine here: the gateway and the store
//! call in.

pub mod chunk;
pub mod extract;
pub mod filter;
pub mod fuse;
pub mod index;
mod script;
mod types;

pub use chunk::{chunk, embedding_text, estimate_tokens, ChunkSettings};
pub use extract::{extract, has_reader, ExtractError, ExtractLimits};
pub use filter::{validate_attributes, Filter};
pub use fuse::{fuse, Fused, Fusion};
pub use index::{
    AllowedFiles, ChunkKey, FileNo, IndexError, KeywordEntry, KeywordIndex, VectorIndex,
    APPROXIMATE_FROM,
};
pub use types::{Block, Chunk, Document};
