ALTER TABLE receipts DROP COLUMN pdfa_reason;
ALTER TABLE receipts DROP COLUMN pdfa;
