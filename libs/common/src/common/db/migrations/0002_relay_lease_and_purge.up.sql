-- Relay leadership as a lease with a generation (fencing), the subject of each outbox row (so
-- erasure can purge a member's sent rows), and indexes for purging past the redelivery horizon.
ALTER TABLE outbox ADD COLUMN subject TEXT;
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX inbox_processed ON inbox (processed_at);

CREATE TABLE outbox_relay_lease (
    singleton   BOOLEAN     PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    holder      TEXT        NOT NULL,
    generation  BIGINT      NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
