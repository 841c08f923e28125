//! The indexes of a knowledge base: keyword ([`KeywordIndex`], BM25 with a
//! Chinese-aware tokenizer) and vector ([`VectorIndex`], exact cosine), both
//! searched within the files a caller may read ([`AllowedFiles`]).

mod allowed;
mod error;
mod graph;
mod ids;
pub mod keyword;
mod keyword_stats;
pub mod tokenize;
mod top;
pub mod vector;

pub use allowed::AllowedFiles;
pub use error::IndexError;
pub use ids::{ChunkKey, FileNo};
pub use keyword::{KeywordEntry, KeywordIndex};
pub use vector::{VectorIndex, APPROXIMATE_FROM};
