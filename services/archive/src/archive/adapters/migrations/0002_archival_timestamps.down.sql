DROP INDEX IF EXISTS receipts_archival;
ALTER TABLE receipts DROP COLUMN IF EXISTS archival_due_at;
