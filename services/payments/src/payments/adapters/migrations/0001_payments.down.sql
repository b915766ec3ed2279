DROP TABLE IF EXISTS stepup_ledger;
DROP TABLE IF EXISTS revoked_sessions;
DROP TABLE IF EXISTS idempotency_keys;
DROP TABLE IF EXISTS payment_audit;
DROP TABLE IF EXISTS payments;
DROP TABLE IF EXISTS payment_consents;
