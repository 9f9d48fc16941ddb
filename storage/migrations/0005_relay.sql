-- Highlights: inputs a facilitator starred (or that passed the event's vote threshold), to be
-- relayed to the other sites. A highlight stays once relayed, even if the star is taken back.
CREATE TABLE highlights (
    input_id    INTEGER PRIMARY KEY REFERENCES inputs(id) ON DELETE CASCADE,
    event_key   TEXT    NOT NULL,
    site_key    TEXT    NOT NULL,
    reason      TEXT    NOT NULL CHECK (reason IN ('star', 'votes')),
    created_at  TEXT    NOT NULL
);
CREATE INDEX highlights_by_site ON highlights(event_key, site_key, created_at);

-- Which highlight went to which other site, when, and how (live, or in a cross-site digest):
-- written in the same transaction as the outbox rows that carry it, so nothing is relayed
-- twice, not even across a restart.
CREATE TABLE highlight_relays (
    input_id    INTEGER NOT NULL REFERENCES inputs(id) ON DELETE CASCADE,
    to_site     TEXT    NOT NULL,
    mode        TEXT    NOT NULL CHECK (mode IN ('live', 'digest')),
    relay_key   TEXT    NOT NULL,  -- the outbox decision that carried it
    relayed_at  TEXT    NOT NULL,
    PRIMARY KEY (input_id, to_site)
);
CREATE INDEX highlight_relays_by_site ON highlight_relays(to_site, relayed_at);

-- 👍 from participants of the other sites on a relayed highlight.
CREATE TABLE relay_reactions (
    input_id    INTEGER NOT NULL REFERENCES inputs(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES participants(user_id) ON DELETE CASCADE,
    site_key    TEXT    NOT NULL,  -- the reacting participant's site
    created_at  TEXT    NOT NULL,
    PRIMARY KEY (input_id, user_id)
);
CREATE INDEX relay_reactions_by_user ON relay_reactions(user_id);

-- Greetings from one site to the others go through the same draft/confirm as broadcasts.
ALTER TABLE broadcasts ADD COLUMN kind TEXT NOT NULL DEFAULT 'broadcast'
    CHECK (kind IN ('broadcast', 'greeting'));
