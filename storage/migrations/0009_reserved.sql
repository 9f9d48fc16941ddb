-- Placeholder: number 0009 belongs to another branch of issue 14 (migrations are numbered
-- without gaps). Delete this file when that branch's 0009 is merged.
SELECT 1;
