-- The inbox: every update Telegram hands the bot is written here before its offset is
-- confirmed (polling) or before answering 200 (webhook), and marked done once handled, so a
-- hard crash loses nothing that was fetched. The payload (which may hold a message text) is
-- cleared when the update is done; the row stays to recognise a duplicate.
CREATE TABLE inbox (
    update_id    INTEGER PRIMARY KEY,
    domain_key   TEXT UNIQUE,  -- chat+message, callback query id…: the same thing twice
    payload      TEXT,
    state        TEXT    NOT NULL DEFAULT 'pending'
                         CHECK (state IN ('pending', 'done', 'failed', 'duplicate')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    received_at  TEXT    NOT NULL,
    finished_at  TEXT,
    error        TEXT
);
CREATE INDEX inbox_pending ON inbox(state, update_id);
