-- Bumped by every change of a store's attached files (attach, ingest state,
-- detach): a search caches the store's file table and reads it again only
-- when this moved, also when another replica made the change.
ALTER TABLE vector_stores ADD COLUMN files_version BIGINT NOT NULL DEFAULT 0;
