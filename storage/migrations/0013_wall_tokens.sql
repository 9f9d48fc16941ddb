-- The walls' unguessable links: one token per site (`wall` = the site key) and one for the
-- all-sites wall (`wall` = '*'). Rotating a token replaces its row: the old link stops working.
CREATE TABLE wall_tokens (
    event_key   TEXT NOT NULL,
    wall        TEXT NOT NULL,
    token       TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (event_key, wall)
);
