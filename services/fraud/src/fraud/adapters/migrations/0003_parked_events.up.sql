-- Transactions that arrived before their owner's registration (different topics, no order):
-- parked, not dead-lettered, and scored when the owner becomes a member or, at `deadline`,
-- as of an unknown owner. `activity` holds the normalised activity (opaque refs, amount, time).
CREATE TABLE parked_events (
    event_id     text PRIMARY KEY,
    owner_ref    text NOT NULL,
    account_ref  text NOT NULL,
    activity     jsonb NOT NULL,
    parked_at    timestamptz NOT NULL,
    deadline     timestamptz NOT NULL
);
CREATE INDEX parked_events_owner ON parked_events (owner_ref);
CREATE INDEX parked_events_deadline ON parked_events (deadline);
