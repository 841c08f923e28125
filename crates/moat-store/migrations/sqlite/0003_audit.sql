-- The audit log: one hash-chained record per API request or audit event.
-- `body` is the record's canonical JSON (sorted keys, no whitespace) and
-- `hash` = SHA-256(prev_hash || body), so each record commits to the one
-- before it. `time_ms`, `principal` (a keyed hash, never the clear id),
-- `model` and `status` repeat fields of the body for searching; verification
-- checks that they agree with it. Writers serialize on `audit_head`, so seq
-- runs 1, 2, 3, … without gaps; it is deliberately not unique on its own so
-- that verification can see, and report, a second row claiming a seq.
CREATE TABLE audit_records (
    seq       INTEGER NOT NULL,
    hash      BLOB    NOT NULL,
    prev_hash BLOB    NOT NULL,
    time_ms   INTEGER NOT NULL,
    principal TEXT,
    model     TEXT,
    status    INTEGER NOT NULL,
    body      TEXT    NOT NULL,
    PRIMARY KEY (seq, hash)
);

CREATE INDEX audit_records_time ON audit_records (time_ms);
CREATE INDEX audit_records_principal ON audit_records (principal, time_ms);

-- Signed checkpoints of the chain: an Ed25519 signature (key kept outside
-- the database) over the seq, hash and time of a record.
CREATE TABLE audit_checkpoints (
    seq       INTEGER NOT NULL PRIMARY KEY,
    hash      BLOB    NOT NULL,
    time_ms   INTEGER NOT NULL,
    signature BLOB    NOT NULL
);

-- The chain head (one row): seq and hash of the last record appended. Each
-- append moves it in the same transaction, only from the seq it expects.
CREATE TABLE audit_head (
    id   INTEGER NOT NULL PRIMARY KEY,
    seq  INTEGER NOT NULL,
    hash BLOB    NOT NULL
);

INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

-- Content keys per data subject (subject = pseudonym of the principal),
-- wrapped under a key kept outside the database. Deleting a row erases the
-- subject's stored content (crypto-shredding).
CREATE TABLE audit_subject_keys (
    subject    TEXT    NOT NULL PRIMARY KEY,
    wrapped    BLOB    NOT NULL,
    created_ms INTEGER NOT NULL
);

-- Clear principal ids for auditors, sealed under a key kept outside the
-- database; found by pseudonym.
CREATE TABLE audit_principals (
    pseudonym TEXT NOT NULL PRIMARY KEY,
    sealed    BLOB NOT NULL
);
