-- Whether the archived PDF is PDF/A-2b, and why not when it is not.
ALTER TABLE receipts ADD COLUMN pdfa boolean NOT NULL DEFAULT false;
ALTER TABLE receipts ADD COLUMN pdfa_reason text;
UPDATE receipts SET pdfa_reason = 'converted before PDF/A was recorded' WHERE NOT pdfa;
