-- People who wrote to the bot. Only what the bot needs: the Telegram user id, the private chat
-- to answer in, a display name for events that credit authors, and a language they chose.
CREATE TABLE participants (
    user_id       INTEGER PRIMARY KEY,
    chat_id       INTEGER NOT NULL,
    display_name  TEXT    NOT NULL DEFAULT '',
    language      TEXT,
    created_at    TEXT    NOT NULL
);

-- Consent per event, with the version of the text that was shown. Withdrawal keeps the row
-- (the record that consent existed and ended) but stops collection.
CREATE TABLE consents (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES participants(user_id) ON DELETE CASCADE,
    event_key     TEXT    NOT NULL,
    version       TEXT    NOT NULL,
    given_at      TEXT    NOT NULL,
    withdrawn_at  TEXT
);
CREATE INDEX consents_by_user ON consents(user_id, event_key);

-- Where each person takes part in an event: one row per person and event.
CREATE TABLE checkins (
    event_key          TEXT    NOT NULL,
    user_id            INTEGER NOT NULL REFERENCES participants(user_id) ON DELETE CASCADE,
    site_key           TEXT    NOT NULL,
    group_key          TEXT,
    checked_in_at      TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    pending_site_key   TEXT,
    pending_group_key  TEXT,
    PRIMARY KEY (event_key, user_id)
);
CREATE INDEX checkins_by_site ON checkins(event_key, site_key, group_key);

-- Facilitator and organiser rights; site_key is '' for organisers (they act on every site),
-- so that the primary key stays simple.
CREATE TABLE roles (
    event_key   TEXT    NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES participants(user_id) ON DELETE CASCADE,
    role        TEXT    NOT NULL CHECK (role IN ('facilitator', 'organiser')),
    site_key    TEXT    NOT NULL DEFAULT '',
    granted_at  TEXT    NOT NULL,
    via         TEXT    NOT NULL,
    PRIMARY KEY (event_key, user_id, role, site_key)
);
