//! The indexes of a knowledge base, searched within the files a caller
//! may read ([`AllowedFiles`]).

mod allowed;
mod error;
mod ids;
pub mod tokenize;
mod top;

pub use allowed::AllowedFiles;
pub use error::IndexError;
pub use ids::{ChunkKey, FileNo};
