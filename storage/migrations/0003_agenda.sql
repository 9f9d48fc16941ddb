-- The agenda's state in the database, so that a restart recomputes what is due from the event
-- file plus these rows, never from memory.

-- Shifts of the remaining programme at a site: /delay (positive or negative), /next (the next
-- item starts now) and /resume (the time spent paused). A shift applies to `from_item_key` and
-- every later item of that site.
CREATE TABLE agenda_shifts (
    id             INTEGER PRIMARY KEY,
    event_key      TEXT    NOT NULL,
    site_key       TEXT    NOT NULL,
    from_item_key  TEXT    NOT NULL,
    seconds        INTEGER NOT NULL,
    reason         TEXT    NOT NULL CHECK (reason IN ('delay', 'next', 'resume')),
    created_by     INTEGER,
    created_at     TEXT    NOT NULL
);
CREATE INDEX agenda_shifts_by_site ON agenda_shifts(event_key, site_key, id);

-- A paused site: nothing new starts there until /resume.
CREATE TABLE agenda_pauses (
    event_key   TEXT NOT NULL,
    site_key    TEXT NOT NULL,
    paused_at   TEXT NOT NULL,
    paused_by   INTEGER,
    PRIMARY KEY (event_key, site_key)
);

-- What the engine has done about each item at each site: its start pushed ('start') and its
-- reminder ('reminder'), either sent or missed (too late after the bot was down).
CREATE TABLE agenda_fired (
    event_key  TEXT NOT NULL,
    site_key   TEXT NOT NULL,
    item_key   TEXT NOT NULL,
    what       TEXT NOT NULL CHECK (what IN ('start', 'reminder')),
    outcome    TEXT NOT NULL CHECK (outcome IN ('sent', 'missed')),
    fired_at   TEXT NOT NULL,
    PRIMARY KEY (event_key, site_key, item_key, what)
);

-- Prompts a facilitator opens on the spot (/prompt), for the site or one table; open until the
-- next agenda item starts or /close.
CREATE TABLE adhoc_prompts (
    id          INTEGER PRIMARY KEY,
    event_key   TEXT    NOT NULL,
    site_key    TEXT    NOT NULL,
    group_key   TEXT,
    text        TEXT    NOT NULL,
    opened_by   INTEGER,
    opened_at   TEXT    NOT NULL,
    closed_at   TEXT
);
CREATE INDEX adhoc_prompts_by_site ON adhoc_prompts(event_key, site_key, opened_at);

-- The language Telegram reports for the person, kept so that pushes are written in it when
-- they have not chosen one with /language.
ALTER TABLE participants ADD COLUMN telegram_language TEXT;

-- A facilitator's message to their site (or an organiser's to every site): drafted, shown as
-- a preview, then confirmed or cancelled. Recipients' copies go through the outbox.
CREATE TABLE broadcasts (
    id            INTEGER PRIMARY KEY,
    event_key     TEXT    NOT NULL,
    site_key      TEXT,             -- NULL: every site
    text          TEXT    NOT NULL,
    created_by    INTEGER NOT NULL,
    created_at    TEXT    NOT NULL,
    sent_at       TEXT,
    cancelled_at  TEXT,
    recipients    INTEGER
);
