-- Conversations kept on the server for their owner: the Responses API's
-- `conversation`, the web UI's chat list. `owner` is the subject's
-- pseudonym, as in `audit_subject_keys`: erasing the subject deletes its
-- conversations with its content key. Everything said (title, metadata,
-- items) is sealed under that key (`key_id` names which); only times,
-- owner and ids are clear. `expires_ms`: when the owner's retention
-- deletes it (counted from the last update); NULL keeps it.
CREATE TABLE conversations (
    id            TEXT    NOT NULL PRIMARY KEY,
    owner         TEXT    NOT NULL,
    created_ms    BIGINT  NOT NULL,
    updated_ms    BIGINT  NOT NULL,
    expires_ms    BIGINT,
    key_id        TEXT    NOT NULL,
    sealed        BYTEA   NOT NULL,
    next_position BIGINT  NOT NULL DEFAULT 0
);

CREATE INDEX conversations_owner ON conversations (owner, created_ms, id);
CREATE INDEX conversations_expires ON conversations (expires_ms);

-- A conversation's items (messages, tool calls and outputs, reasoning) in
-- the order they were added: `position` counts from 0 per conversation.
CREATE TABLE conversation_items (
    conversation_id TEXT    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    position        BIGINT  NOT NULL,
    id              TEXT    NOT NULL,
    created_ms      BIGINT  NOT NULL,
    key_id          TEXT    NOT NULL,
    sealed          BYTEA   NOT NULL,
    PRIMARY KEY (conversation_id, position)
);

CREATE UNIQUE INDEX conversation_items_id ON conversation_items (conversation_id, id);
