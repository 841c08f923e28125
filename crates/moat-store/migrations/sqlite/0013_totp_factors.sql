-- Second factors (TOTP, RFC 6238) of API keys whose holders sign in to the
-- web UI as administrators or auditors. The shared secret is sealed under
-- a key derived from the server secret, bound to the key id. `last_step`
-- is the newest 30-second step a code was accepted for: a code is good
-- once.
CREATE TABLE totp_factors (
    key_id     TEXT    NOT NULL PRIMARY KEY,
    sealed     BLOB   NOT NULL,
    created_ms INTEGER NOT NULL,
    last_step  INTEGER NOT NULL DEFAULT 0
);
