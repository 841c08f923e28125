-- The audit log: one hash-chained record per API request or audit event.
-- `body` is the record's canonical JSON (sorted keys, no whitespace) and
-- `hash` = SHA-256(prev_hash || body), so each record commits to the one
-- before it. `time_ms`, `principal` (a keyed hash, never the clear id),
-- `model` and `status` repeat fields of the body for searching; verification
-- checks that they agree with it. Writers serialize on `audit_head`, so seq
-- runs 1, 2, 3, … without gaps; it is deliberately not unique on its own so
-- that verification can see, and report, a second row claiming a seq.
CREATE TABLE audit_records (
    seq       BIGINT  NOT NULL,
    hash      BYTEA   NOT NULL,
    prev_hash BYTEA   NOT NULL,
    time_ms   BIGINT  NOT NULL,
    principal TEXT,
    model     TEXT,
    status    BIGINT  NOT NULL,
    body      TEXT    NOT NULL,
    PRIMARY KEY (seq, hash)
);

CREATE INDEX audit_records_time ON audit_records (time_ms);
CREATE INDEX audit_records_principal ON audit_records (principal, time_ms);

-- Signed checkpoints of the chain: an Ed25519 signature (key kept outside
-- the database) over the seq, hash and time of a record.
CREATE TABLE audit_checkpoints (
    seq       BIGINT  NOT NULL PRIMARY KEY,
    hash      BYTEA   NOT NULL,
    time_ms   BIGINT  NOT NULL,
    signature BYTEA   NOT NULL
);

-- The chain head (one row): seq and hash of the last record appended. Each
-- append moves it in the same transaction, only from the seq it expects.
CREATE TABLE audit_head (
    id   BIGINT  NOT NULL PRIMARY KEY,
    seq  BIGINT  NOT NULL,
    hash BYTEA   NOT NULL
);

INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

-- Content keys per data subject (subject = pseudonym of the principal),
-- wrapped under a key kept outside the database. Deleting a row erases the
-- subject's stored content (crypto-shredding).
CREATE TABLE audit_subject_keys (
    subject    TEXT    NOT NULL PRIMARY KEY,
    wrapped    BYTEA   NOT NULL,
    created_ms BIGINT  NOT NULL
);

-- Clear principal ids for auditors, sealed under a key kept outside the
-- database; found by pseudonym.
CREATE TABLE audit_principals (
    pseudonym TEXT  NOT NULL PRIMARY KEY,
    sealed    BYTEA NOT NULL
);
