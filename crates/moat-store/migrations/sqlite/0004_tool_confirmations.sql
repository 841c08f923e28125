-- Tool calls parked until their caller approves or rejects them: the
-- conversation so far, sealed (AES-256-GCM) by the server, so any replica
-- can resume it and a restart does not lose it.
CREATE TABLE tool_confirmations (
    id          TEXT    PRIMARY KEY,
    owner       TEXT    NOT NULL,
    expires_ms  INTEGER  NOT NULL,
    sealed      BLOB   NOT NULL
);

CREATE INDEX tool_confirmations_expires ON tool_confirmations (expires_ms);
