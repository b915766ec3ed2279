-- B-LTA: when a sealed receipt gets its next archival document timestamp.
ALTER TABLE receipts ADD COLUMN archival_due_at timestamptz;
UPDATE receipts SET archival_due_at = sealed_at + interval '730 days' WHERE status = 'sealed';
CREATE INDEX receipts_archival ON receipts (archival_due_at) WHERE status = 'sealed';
