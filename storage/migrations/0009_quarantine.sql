-- Updates that could not be parsed or stored (a shape this PTB version does not know, a lone
-- UTF-16 surrogate, an entry that is not an object): set aside so that intake moves on past
-- them. Only what helps to find the cause is kept, never the update's text: its id, when,
-- the error's class and the update's top-level keys.
CREATE TABLE quarantine (
    id           INTEGER PRIMARY KEY,
    update_id    INTEGER UNIQUE,  -- NULL when the entry had none
    received_at  TEXT NOT NULL,
    error        TEXT NOT NULL,
    keys         TEXT NOT NULL    -- the update's top-level keys, comma-separated
);
