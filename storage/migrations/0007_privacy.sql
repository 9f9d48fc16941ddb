-- Erasure leaves only an anonymous count: when, and how many inputs went with the person.
CREATE TABLE erasures (
    id           INTEGER PRIMARY KEY,
    event_key    TEXT,
    erased_at    TEXT    NOT NULL,
    inputs       INTEGER NOT NULL,
    reason       TEXT    NOT NULL CHECK (reason IN ('request', 'retention'))
);
