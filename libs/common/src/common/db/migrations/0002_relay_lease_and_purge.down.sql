DROP TABLE IF EXISTS outbox_relay_lease;
DROP INDEX IF EXISTS inbox_processed;
DROP INDEX IF EXISTS outbox_sent;
ALTER TABLE outbox DROP COLUMN IF EXISTS subject;
