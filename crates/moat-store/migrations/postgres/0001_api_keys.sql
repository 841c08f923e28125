-- API keys. Only a keyed hash of each secret is stored; `roles` and `models`
-- are JSON arrays of strings (`models` NULL: whatever the roles allow).
-- Times are milliseconds since the Unix epoch.
CREATE TABLE api_keys (
    id           TEXT    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL,
    hint         TEXT    NOT NULL,
    hash         BYTEA   NOT NULL,
    roles        TEXT    NOT NULL,
    models       TEXT,
    created_ms   BIGINT  NOT NULL,
    expires_ms   BIGINT,
    revoked_ms   BIGINT,
    last_used_ms BIGINT,
    updated_ms   BIGINT  NOT NULL
);

CREATE UNIQUE INDEX api_keys_hash ON api_keys (hash);

-- Change counters that servers poll to refresh their caches; bumped in the
-- same transaction as the change they count.
CREATE TABLE revisions (
    scope TEXT    NOT NULL PRIMARY KEY,
    value BIGINT  NOT NULL
);

INSERT INTO revisions (scope, value) VALUES ('api_keys', 0);
