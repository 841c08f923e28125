//! moat's knowledge bases: documents extracted to structured text
//! (`extract`), cut into chunks that keep their title and heading path
//! (`chunk`), indexed by keyword (Chinese-aware) and by vector (`index`),
//! and retrieved with both fused (`retrieve`). No HTTP and no storage
//! engine here: the gateway and the store call in.

mod types;

pub use types::{Block, Chunk, Document};
