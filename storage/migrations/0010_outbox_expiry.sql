-- A message stays worth sending only for a while: a push until the site's next item starts.
-- `expires_at` says until when sends that fail because Telegram could not be reached are
-- retried; after it the row is 'missed' (never sent, reported to the site's facilitators).
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt with the new
-- status; nothing references the outbox, so its ids and rows are copied as they are.
CREATE TABLE outbox_new (
    id                   INTEGER PRIMARY KEY,
    key                  TEXT    NOT NULL UNIQUE,
    event_key            TEXT,
    chat_id              INTEGER NOT NULL,
    user_id              INTEGER REFERENCES participants(user_id) ON DELETE CASCADE,
    kind                 TEXT    NOT NULL,
    payload              TEXT    NOT NULL,
    status               TEXT    NOT NULL DEFAULT 'pending' CHECK (
        status IN ('pending', 'sending', 'sent', 'failed', 'unreachable', 'unknown', 'missed')
    ),
    attempts             INTEGER NOT NULL DEFAULT 0,
    not_before           TEXT,
    created_at           TEXT    NOT NULL,
    sent_at              TEXT,
    telegram_message_id  INTEGER,
    error                TEXT,
    priority             INTEGER NOT NULL DEFAULT 0,
    expires_at           TEXT
);
INSERT INTO outbox_new
    (id, key, event_key, chat_id, user_id, kind, payload, status, attempts, not_before,
     created_at, sent_at, telegram_message_id, error, priority)
SELECT id, key, event_key, chat_id, user_id, kind, payload, status, attempts, not_before,
       created_at, sent_at, telegram_message_id, error, priority
  FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_pending ON outbox(status, priority, id);
CREATE INDEX outbox_pending_by_chat ON outbox(status, chat_id, priority, id);
CREATE INDEX outbox_by_user ON outbox(user_id);
CREATE INDEX outbox_by_kind ON outbox(event_key, kind, status);
CREATE INDEX outbox_due ON outbox(status, not_before);
