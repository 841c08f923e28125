-- Signed-in web UI sessions. A session is known by the hash of its cookie
-- token (the token itself is never stored) and stands for the API key it
-- was opened with (by that key's stored hash), so revoking or expiring
-- the key ends its sessions at once. Shared by replicas.
CREATE TABLE ui_sessions (
    token_hash    BYTEA    PRIMARY KEY,
    key_hash      BYTEA    NOT NULL,
    created_ms    BIGINT  NOT NULL,
    last_seen_ms  BIGINT  NOT NULL,
    expires_ms    BIGINT  NOT NULL
);

CREATE INDEX ui_sessions_expires ON ui_sessions (expires_ms);
