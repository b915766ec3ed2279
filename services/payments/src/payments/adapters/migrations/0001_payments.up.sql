-- payments: consents (vault refs only), payments, their audit trail, idempotency keys,
-- revoked sessions and the step-up ledger. No full IBAN, no token, no consent id of the bank.
CREATE TABLE payment_consents (
    consent_id       text PRIMARY KEY,
    user_id          text NOT NULL,
    status           text NOT NULL,
    account_ref      text NOT NULL,
    account_masked   text NOT NULL,
    currency         text NOT NULL,
    max_per_payment  numeric(20, 4) NOT NULL,
    periodic_limit   numeric(20, 4) NOT NULL,
    frequency        text NOT NULL,
    valid_until      timestamptz NOT NULL,
    state_digest     text UNIQUE,
    state_expires_at timestamptz,
    vault_ref        text,
    bank_revoked     boolean NOT NULL DEFAULT false,
    ended_reason     text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX payment_consents_user ON payment_consents (user_id, account_ref);

CREATE TABLE payments (
    payment_id       text PRIMARY KEY,
    user_id          text NOT NULL,
    kind             text NOT NULL,
    consent_id       text NOT NULL REFERENCES payment_consents (consent_id),
    account_ref      text NOT NULL,
    amount           numeric(20, 4) NOT NULL CHECK (amount > 0),
    currency         text NOT NULL,
    payee_ref        text NOT NULL,
    payee_name       text NOT NULL,
    payee_masked     text NOT NULL,
    remittance       text NOT NULL,
    state            text NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    authorise_by     timestamptz NOT NULL,
    session_id       text,
    device_id        text,
    authorisation_id text UNIQUE,
    decision         text,
    reason           text,
    bank_payment_id  text,
    bank_status      text,
    next_check_at    timestamptz,
    checks           integer NOT NULL DEFAULT 0,
    executed_at      timestamptz
);
CREATE INDEX payments_user ON payments (user_id, created_at DESC, payment_id DESC);
CREATE INDEX payments_due ON payments (state, next_check_at);
CREATE INDEX payments_session ON payments (session_id);

CREATE TABLE payment_audit (
    entry_id         bigserial PRIMARY KEY,
    payment_id       text NOT NULL REFERENCES payments (payment_id),
    at               timestamptz NOT NULL,
    state            text NOT NULL,
    previous_state   text,
    actor_kind       text NOT NULL,
    actor_id         text,
    session_id       text,
    device_id        text,
    authorisation_id text,
    decision         text,
    reason           text
);
CREATE INDEX payment_audit_payment ON payment_audit (payment_id, entry_id);
CREATE INDEX payment_audit_actor ON payment_audit (actor_id);

CREATE TABLE idempotency_keys (
    user_id          text NOT NULL,
    key              text NOT NULL,
    fingerprint      text NOT NULL,
    payment_id       text NOT NULL,
    created_at       timestamptz NOT NULL,
    locked_until     timestamptz,
    response_status  integer,
    response_body    jsonb,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);

CREATE TABLE revoked_sessions (
    session_id       text PRIMARY KEY,
    user_id          text NOT NULL,
    revoked_at       timestamptz NOT NULL
);

CREATE TABLE stepup_ledger (
    authorisation_id text PRIMARY KEY,
    expires_at       timestamptz NOT NULL
);
