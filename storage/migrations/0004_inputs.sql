-- Inputs: what participants write back. The product of the day, so every one is kept with
-- where it came from; erasing a participant erases their inputs, stars and votes.
CREATE TABLE inputs (
    id               INTEGER PRIMARY KEY,
    event_key        TEXT    NOT NULL,
    user_id          INTEGER NOT NULL REFERENCES participants(user_id) ON DELETE CASCADE,
    site_key         TEXT    NOT NULL,
    group_key        TEXT,
    role             TEXT    NOT NULL,  -- participant, facilitator or organiser when written
    category_key     TEXT,              -- the event's participant role (politician …), if any
    anonymous        INTEGER NOT NULL DEFAULT 0,  -- shown without a name, as then chosen
    item_key         TEXT,              -- the agenda prompt answered
    adhoc_id         INTEGER,           -- or the ad-hoc prompt; both NULL: a general input
    kind             TEXT    NOT NULL CHECK (kind IN ('text', 'photo', 'document', 'voice')),
    text             TEXT    NOT NULL DEFAULT '',  -- the text, or a media caption
    file_id          TEXT,
    file_unique_id   TEXT,
    file_name        TEXT,
    mime_type        TEXT,
    duration         INTEGER,
    chat_id          INTEGER NOT NULL,
    message_id       INTEGER NOT NULL,
    update_id        INTEGER,
    state            TEXT    NOT NULL DEFAULT 'visible'
                             CHECK (state IN ('visible', 'hidden', 'withdrawn')),
    created_at       TEXT    NOT NULL,
    edited_at        TEXT,
    state_changed_at TEXT,
    state_changed_by INTEGER,
    UNIQUE (chat_id, message_id)
);
-- The same Telegram update delivered twice creates one input.
CREATE UNIQUE INDEX inputs_by_update ON inputs(update_id) WHERE update_id IS NOT NULL;
CREATE INDEX inputs_by_prompt ON inputs(event_key, site_key, item_key, adhoc_id, created_at);
CREATE INDEX inputs_by_user ON inputs(user_id, event_key, id);

-- An edited message updates its input; the earlier text is kept here.
CREATE TABLE input_edits (
    input_id     INTEGER NOT NULL REFERENCES inputs(id) ON DELETE CASCADE,
    text         TEXT    NOT NULL,
    replaced_at  TEXT    NOT NULL
);
CREATE INDEX input_edits_by_input ON input_edits(input_id);

-- Facilitators' stars (a starred input is a highlight) and participants' votes.
CREATE TABLE input_stars (
    input_id    INTEGER NOT NULL REFERENCES inputs(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES participants(user_id) ON DELETE CASCADE,
    created_at  TEXT    NOT NULL,
    PRIMARY KEY (input_id, user_id)
);
CREATE TABLE input_votes (
    input_id    INTEGER NOT NULL REFERENCES inputs(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES participants(user_id) ON DELETE CASCADE,
    created_at  TEXT    NOT NULL,
    PRIMARY KEY (input_id, user_id)
);
CREATE INDEX input_votes_by_user ON input_votes(user_id);
CREATE INDEX input_stars_by_user ON input_stars(user_id);

-- What a participant told us at check-in: their kind of participant and, where the event lets
-- them choose, whether their inputs carry their name.
ALTER TABLE checkins ADD COLUMN category_key TEXT;
ALTER TABLE checkins ADD COLUMN anonymous INTEGER;
