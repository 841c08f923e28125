//! `/v1/vector_stores`: stores, their files, file batches and search, in
//! OpenAI's shapes, with the checks each request needs.

mod chunking;
mod fields;
mod file;
mod search;
mod store;

pub use chunking::{
    ChunkingStrategy, ChunkingStrategyParam, StaticChunking, MAX_CHUNK_TOKENS, MIN_CHUNK_TOKENS,
};
pub use fields::{
    check_attributes, check_metadata, Attributes, ExpiresAfter, ExpiresAnchor, Metadata,
    MAX_EXPIRY_DAYS, MAX_FILE_IDS, MAX_KEY_CHARS, MAX_NAME_CHARS, MAX_PAIRS, MAX_VALUE_CHARS,
};
pub use file::{
    AttachFileRequest, BatchFile, CreateFileBatchRequest, IngestDetails, LastError, LastErrorCode,
    VectorStoreFile, VectorStoreFileBatch, VectorStoreFileDeleted, VectorStoreFileList,
    VectorStoreFileListQuery, VectorStoreFileStatus,
};
pub use search::{
    Ranker, RankingOptions, SearchContent, SearchQuery, SearchRequest, SearchResult,
    SearchResultsPage, DEFAULT_MAX_RESULTS, MAX_QUERIES, MAX_QUERY_CHARS, MAX_RESULTS,
};
pub use store::{
    CreateVectorStoreRequest, FileCounts, ModifyVectorStoreRequest, ReembedProgress, VectorStore,
    VectorStoreDeleted, VectorStoreDetails, VectorStoreList, VectorStoreStatus,
    MAX_DESCRIPTION_CHARS,
};
