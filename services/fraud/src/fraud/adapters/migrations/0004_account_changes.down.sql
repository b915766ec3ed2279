ALTER TABLE account_state DROP COLUMN IF EXISTS last_change;
DROP TABLE IF EXISTS account_changes;
