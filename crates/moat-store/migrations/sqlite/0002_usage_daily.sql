-- Requests and tokens per principal, role and model per UTC day ("YYYY-MM-DD").
CREATE TABLE usage_daily (
    day               TEXT    NOT NULL,
    principal         TEXT    NOT NULL,
    role              TEXT    NOT NULL,
    model             TEXT    NOT NULL,
    requests          INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    PRIMARY KEY (day, principal, role, model)
);

CREATE INDEX usage_daily_principal_day ON usage_daily (principal, day);
