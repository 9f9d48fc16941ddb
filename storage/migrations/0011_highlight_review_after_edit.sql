-- A highlight carries the text a facilitator approved. When its author edits it afterwards,
-- it is held: it travels to no further site (live or in a digest) until a facilitator stars it
-- again, which clears `held_at`. Copies relayed before the edit keep the approved text.
ALTER TABLE highlights ADD COLUMN held_at TEXT;
