-- "When is the next row in backoff due?" is asked at every refill of the delivery worker's
-- queue; with this index it reads one entry instead of every pending row.
CREATE INDEX outbox_due ON outbox(status, not_before);
