-- The facilitators' console: one-time sign-in links sent by /console, and the sessions they
-- open. Only SHA-256 hashes of the link tokens and of the session ids are kept: a copy of
-- the database opens no console. `csrf` is the session's token for its forms (not a secret
-- on its own: it is useless without the session's cookie).
CREATE TABLE console_links (
    token_hash  TEXT PRIMARY KEY,
    event_key   TEXT NOT NULL,
    user_id     INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
);

CREATE TABLE console_sessions (
    session_hash  TEXT PRIMARY KEY,
    event_key     TEXT NOT NULL,
    user_id       INTEGER NOT NULL,
    csrf          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    ended_at      TEXT
);
