-- An owner's conversations are listed by last change (the chat list), not
-- by creation.
CREATE INDEX conversations_owner_updated ON conversations (owner, updated_ms, id);
