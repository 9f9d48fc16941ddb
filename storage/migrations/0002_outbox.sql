-- The outbox: every message the bot sends on its own initiative is written here first, in the
-- same transaction as the decision to send it, and one delivery worker sends it later. `key`
-- makes enqueueing idempotent: a decision taken twice (a restart, a retried job) queues once.
-- A crash during a send leaves the row in 'sending'; at the next start it becomes 'unknown'
-- (Telegram may or may not have it) and is reported, never sent blindly again.
CREATE TABLE outbox (
    id                   INTEGER PRIMARY KEY,
    key                  TEXT    NOT NULL UNIQUE,
    event_key            TEXT,
    chat_id              INTEGER NOT NULL,
    -- The person whose private chat this is; erasing them removes what is queued for them.
    user_id              INTEGER REFERENCES participants(user_id) ON DELETE CASCADE,
    kind                 TEXT    NOT NULL,
    payload              TEXT    NOT NULL,
    status               TEXT    NOT NULL DEFAULT 'pending' CHECK (
        status IN ('pending', 'sending', 'sent', 'failed', 'unreachable', 'unknown')
    ),
    attempts             INTEGER NOT NULL DEFAULT 0,
    not_before           TEXT,
    created_at           TEXT    NOT NULL,
    sent_at              TEXT,
    telegram_message_id  INTEGER,
    -- A short reason (Telegram's error description or an exception class), never message text.
    error                TEXT,
    priority             INTEGER NOT NULL DEFAULT 0
);

-- The worker's question: the next pending rows, most urgent first, in the order they came.
CREATE INDEX outbox_pending ON outbox(status, priority, id);
-- Keeping each chat's messages in order: the earliest pending row of every chat.
CREATE INDEX outbox_pending_by_chat ON outbox(status, chat_id, priority, id);
CREATE INDEX outbox_by_user ON outbox(user_id);
CREATE INDEX outbox_by_kind ON outbox(event_key, kind, status);

-- Set when Telegram answers Forbidden (the person blocked the bot), so that later messages to
-- them are not attempted; cleared when they write to the bot again.
ALTER TABLE participants ADD COLUMN unreachable_at TEXT;
