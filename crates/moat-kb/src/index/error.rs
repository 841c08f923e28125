//! What can go wrong in the indexes ([`IndexError`]).

/// An index refused an input or failed to read or write its storage.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The keyword index's storage (tantivy) failed.
    #[error("keyword index: {0}")]
    Keyword(#[from] tantivy::TantivyError),
    /// An index folder holds something this version cannot use.
    #[error("keyword index at {path} has an unexpected schema: {reason}")]
    Schema { path: String, reason: String },
    /// A chunk's text is longer than an index accepts.
    #[error("chunk text is {len} bytes, more than the {max} an index accepts")]
    TextTooLong { len: usize, max: usize },
    /// A vector of the wrong length.
    #[error("vector has {got} dimensions, the index has {expected}")]
    Dimensions { expected: usize, got: usize },
    /// A vector index with no dimensions or more than it supports.
    #[error("vector index dimensions must be 1..={max}, not {got}")]
    DimensionsOutOfRange { got: usize, max: usize },
    /// A vector holding NaN or infinity.
    #[error("vector holds a value that is not a finite number")]
    NonFinite,
    /// A vector of zeros has no direction to compare.
    #[error("vector is all zeros")]
    ZeroVector,
    /// The index is full.
    #[error("vector index is full ({max} vectors)")]
    Full { max: usize },
    /// Stored vectors that are not in the expected form.
    #[error("stored vector index is not valid: {0}")]
    Format(String),
    /// Reading or writing stored vectors failed.
    #[error("vector index storage: {0}")]
    Io(#[from] std::io::Error),
}
