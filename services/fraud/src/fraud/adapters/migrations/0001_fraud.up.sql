-- Fraud's own tables. Rules: no full IBAN, device id, credential or token is stored; payee and
-- account references are opaque; device ids only as fingerprints (inside state documents);
-- the audit log is append-only.

CREATE TABLE members (
    owner_ref      text PRIMARY KEY,
    registered_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE accounts (
    account_ref    text PRIMARY KEY,
    owner_ref      text NOT NULL,
    registered_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX accounts_owner ON accounts (owner_ref);

CREATE TABLE account_state (
    account_ref    text PRIMARY KEY,
    state          jsonb NOT NULL,
    revision       bigint NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE owner_state (
    owner_ref      text PRIMARY KEY,
    state          jsonb NOT NULL,
    revision       bigint NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE scores (
    score_id         text PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('transaction', 'payment')),
    activity_ref     text NOT NULL,
    account_ref      text NOT NULL,
    owner_ref        text,
    value            double precision NOT NULL CHECK (value >= 0 AND value <= 1),
    decision         text NOT NULL CHECK (decision IN ('pass', 'review', 'block')),
    reasons          jsonb NOT NULL,
    features         jsonb NOT NULL,
    model_version    integer NOT NULL,
    scored_at        timestamptz NOT NULL,
    source_event_id  text,
    UNIQUE (kind, activity_ref)
);
CREATE INDEX scores_owner_time ON scores (owner_ref, scored_at);
CREATE INDEX scores_time ON scores (scored_at);

CREATE TABLE alerts (
    alert_id      text PRIMARY KEY,
    score_id      text NOT NULL REFERENCES scores (score_id),
    kind          text NOT NULL,
    activity_ref  text NOT NULL,
    account_ref   text NOT NULL,
    owner_ref     text,
    decision      text NOT NULL CHECK (decision IN ('review', 'block')),
    value         double precision NOT NULL,
    reasons       jsonb NOT NULL,
    raised_at     timestamptz NOT NULL,
    status        text NOT NULL CHECK (status IN ('open', 'resolved')),
    verdict       text CHECK (verdict IN ('fraud', 'legitimate')),
    analyst_id    text,
    resolved_at   timestamptz,
    CHECK ((status = 'open') = (verdict IS NULL))
);
CREATE INDEX alerts_status_time ON alerts (status, raised_at DESC, alert_id DESC);
CREATE INDEX alerts_time ON alerts (raised_at DESC, alert_id DESC);
CREATE INDEX alerts_owner_time ON alerts (owner_ref, raised_at);

CREATE TABLE payment_decisions (
    payment_id   text PRIMARY KEY,
    account_ref  text NOT NULL,
    owner_ref    text,
    amount       numeric(24, 6) NOT NULL CHECK (amount > 0),
    currency     char(3) NOT NULL,
    payee_ref    text NOT NULL,
    score_id     text NOT NULL REFERENCES scores (score_id),
    decision     text NOT NULL CHECK (decision IN ('pass', 'review', 'block')),
    status       text NOT NULL
                 CHECK (status IN ('cleared', 'held', 'blocked', 'released', 'cancelled')),
    alert_id     text REFERENCES alerts (alert_id),
    decided_at   timestamptz NOT NULL,
    analyst_id   text,
    resolved_at  timestamptz
);
CREATE INDEX decisions_owner_time ON payment_decisions (owner_ref, decided_at);

CREATE TABLE security_events (
    id               bigserial PRIMARY KEY,
    owner_ref        text NOT NULL,
    kind             text NOT NULL,
    occurred_at      timestamptz NOT NULL,
    new_device       boolean NOT NULL DEFAULT false,
    source_event_id  text
);
CREATE INDEX security_events_owner_time ON security_events (owner_ref, occurred_at);
CREATE INDEX security_events_time ON security_events (occurred_at);

CREATE TABLE consents (
    owner_ref    text NOT NULL,
    consent_ref  text NOT NULL,
    expires_at   timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner_ref, consent_ref)
);

CREATE TABLE model_state (
    id          smallint PRIMARY KEY CHECK (id = 1),
    version     integer NOT NULL DEFAULT 0,
    state       jsonb,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO model_state (id) VALUES (1);

CREATE TABLE audit_log (
    id        bigserial PRIMARY KEY,
    actor_id  text NOT NULL,
    action    text NOT NULL,
    target    text NOT NULL,
    at        timestamptz NOT NULL,
    details   jsonb NOT NULL DEFAULT '{}'
);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE reports (
    report_id     text PRIMARY KEY,
    owner_ref     text NOT NULL,
    week          text NOT NULL,
    generated_at  timestamptz NOT NULL,
    body          jsonb NOT NULL,
    pdf           bytea NOT NULL
);
CREATE INDEX reports_owner_week ON reports (owner_ref, week, generated_at DESC);

CREATE TABLE report_runs (
    week          text PRIMARY KEY,
    started_at    timestamptz NOT NULL,
    completed_at  timestamptz,
    reports       integer NOT NULL DEFAULT 0
);
