-- Stored responses of the Responses API (`store`, the default), for
-- `GET /v1/responses/{id}`, `previous_response_id` and `input_items`.
-- As with conversations: `owner` is the subject's pseudonym, everything
-- said (input, output, instructions) is sealed under its content key
-- (`key_id`), erasing the subject deletes them, and `expires_ms` is when
-- the owner's retention deletes one (NULL keeps it). `previous_id` links
-- a response to the one it continues.
CREATE TABLE responses (
    id          TEXT    NOT NULL PRIMARY KEY,
    owner       TEXT    NOT NULL,
    previous_id TEXT,
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER,
    key_id      TEXT    NOT NULL,
    sealed      BLOB   NOT NULL
);

CREATE INDEX responses_owner ON responses (owner);
CREATE INDEX responses_expires ON responses (expires_ms);
