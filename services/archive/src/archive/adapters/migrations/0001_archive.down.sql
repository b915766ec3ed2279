DROP TABLE IF EXISTS movements;
DROP TABLE IF EXISTS mail_senders;
DROP TABLE IF EXISTS mail_addresses;
DROP TRIGGER IF EXISTS journal_no_update ON journal;
DROP TABLE IF EXISTS journal;
DROP FUNCTION IF EXISTS journal_append_only();
DROP TABLE IF EXISTS staged_objects;
DROP TABLE IF EXISTS receipts;
