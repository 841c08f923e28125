//! The indexes of a knowledge base: keyword ([`KeywordIndex`], BM25 with a
//! Chinese-aware tokenizer) (more to come), searched within the files a caller may read ([`AllowedFiles`]).

mod allowed;
mod error;
mod ids;
pub mod keyword;
pub mod tokenize;
mod top;

pub use allowed::AllowedFiles;
pub use error::IndexError;
pub use ids::{ChunkKey, FileNo};
pub use keyword::{KeywordEntry, KeywordIndex};
