-- Knowledge bases in OpenAI's shapes: uploaded files, vector stores, the
-- files attached to each store, their chunks and batches of attachments.
-- Times are milliseconds since the Unix epoch; JSON columns are text. Ids
-- and owners compare byte-wise (COLLATE "C"), as in SQLite, so listings
-- ordered by (time, id) page the same on both databases.

-- Uploaded files with their bytes, so that replicas sharing a database
-- share them. `sha256` is the content's hash in lower-case hex (for
-- finding an owner's earlier upload of the same bytes).
CREATE TABLE files (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    owner       TEXT COLLATE "C" NOT NULL,
    filename    TEXT    NOT NULL,
    purpose     TEXT    NOT NULL,
    bytes       BIGINT  NOT NULL,
    sha256      TEXT    NOT NULL,
    content     BYTEA   NOT NULL,
    created_ms  BIGINT  NOT NULL
);

CREATE INDEX files_owner_created ON files (owner, created_ms, id);
CREATE INDEX files_created ON files (created_ms, id);
CREATE INDEX files_owner_sha256 ON files (owner, sha256);

-- Vector stores. `embedding_model` is the model that embedded the stored
-- vectors of its chunks; `next_file_no` is the number the next attached
-- file gets, so a detached file's number is never handed out again.
CREATE TABLE vector_stores (
    id              TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name            TEXT    NOT NULL,
    owner           TEXT COLLATE "C" NOT NULL,
    created_ms      BIGINT  NOT NULL,
    last_active_ms  BIGINT  NOT NULL,
    metadata        TEXT    NOT NULL,
    embedding_model TEXT    NOT NULL,
    chunking        TEXT    NOT NULL,
    expires_after   TEXT,
    next_file_no    BIGINT  NOT NULL
);

CREATE INDEX vector_stores_owner_created ON vector_stores (owner, created_ms, id);
CREATE INDEX vector_stores_created ON vector_stores (created_ms, id);

-- Files attached to a store. `file_no` is dense per store (0, 1, 2, …);
-- `pii` holds the kinds and counts of personal data found at ingest,
-- never values; `content_sha256` is the file's hash when it was ingested.
CREATE TABLE vector_store_files (
    store_id           TEXT COLLATE "C" NOT NULL REFERENCES vector_stores (id) ON DELETE CASCADE,
    file_id            TEXT COLLATE "C" NOT NULL,
    file_no            BIGINT  NOT NULL,
    attributes         TEXT    NOT NULL,
    chunking           TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    last_error_code    TEXT,
    last_error_message TEXT,
    usage_bytes        BIGINT  NOT NULL,
    chunk_count        BIGINT  NOT NULL,
    pii                TEXT    NOT NULL,
    content_sha256     TEXT,
    created_ms         BIGINT  NOT NULL,
    updated_ms         BIGINT  NOT NULL,
    PRIMARY KEY (store_id, file_id)
);

CREATE UNIQUE INDEX vector_store_files_file_no ON vector_store_files (store_id, file_no);
CREATE INDEX vector_store_files_created ON vector_store_files (store_id, created_ms, file_id);
CREATE INDEX vector_store_files_status ON vector_store_files (status);

-- Chunks of attached files. A chunk's key in the in-memory indexes is
-- (file_no << 32) | ordinal. `embedding` is little-endian f32, NULL until
-- embedded.
CREATE TABLE kb_chunks (
    store_id  TEXT COLLATE "C" NOT NULL,
    file_no   BIGINT  NOT NULL,
    ordinal   BIGINT  NOT NULL,
    text      TEXT    NOT NULL,
    title     TEXT    NOT NULL,
    headings  TEXT    NOT NULL,
    page      BIGINT,
    embedding BYTEA,
    PRIMARY KEY (store_id, file_no, ordinal),
    FOREIGN KEY (store_id, file_no)
        REFERENCES vector_store_files (store_id, file_no) ON DELETE CASCADE
);

-- Batches of attachments; their counts come from vector_store_files.
CREATE TABLE file_batches (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    store_id    TEXT COLLATE "C" NOT NULL REFERENCES vector_stores (id) ON DELETE CASCADE,
    created_ms  BIGINT  NOT NULL,
    file_ids    TEXT    NOT NULL,
    status      TEXT    NOT NULL
);

CREATE INDEX file_batches_store ON file_batches (store_id);
