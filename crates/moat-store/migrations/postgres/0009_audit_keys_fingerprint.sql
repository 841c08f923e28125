-- Which audit keys file the log belongs to: a digest of its keys (never
-- the keys), stored by the first process that opens the log. Every replica
-- and every `moat audit` command must use the same keys file; one opened
-- with other keys is refused at start instead of writing pseudonyms and
-- content keys that the others cannot read.
CREATE TABLE audit_keys_fingerprint (
    id          INTEGER NOT NULL PRIMARY KEY,
    fingerprint TEXT    NOT NULL
);
