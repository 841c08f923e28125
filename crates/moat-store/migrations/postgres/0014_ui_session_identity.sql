-- A web UI session opened by single sign-on stands for the provider's
-- identity (issuer, subject, roles), sealed under a key derived from the
-- server secret, instead of an API key (its `key_hash` is then empty).
ALTER TABLE ui_sessions ADD COLUMN identity BYTEA;
