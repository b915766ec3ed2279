-- Aggregation's tables. Data minimisation: a transaction row holds its opaque reference, the
-- member, the account reference, label, date, signed amount, currency and status — nothing
-- else. No IBAN, balance, counterparty account or consent token is stored anywhere here.

CREATE TABLE connections (
    connection_id          uuid PRIMARY KEY,
    user_id                text NOT NULL,
    status                 text NOT NULL,
    state_digest           bytea NOT NULL UNIQUE,
    state_expires_at       timestamptz NOT NULL,
    state_used_at          timestamptz,
    vault_ref              text,
    frequency_per_day      integer NOT NULL CHECK (frequency_per_day BETWEEN 1 AND 4),
    consent_valid_until    date,
    expiry_warned_at       timestamptz,
    last_member_refresh_at timestamptz,
    created_at             timestamptz NOT NULL,
    activated_at           timestamptz,
    ended_at               timestamptz,
    end_reason             text
);
CREATE INDEX connections_user ON connections (user_id);
CREATE INDEX connections_active_expiry ON connections (consent_valid_until) WHERE status = 'active';
CREATE INDEX connections_pending ON connections (state_expires_at) WHERE status = 'pending';

CREATE TABLE accounts (
    account_ref    text PRIMARY KEY,
    user_id        text NOT NULL,
    connection_id  uuid NOT NULL REFERENCES connections (connection_id) ON DELETE CASCADE,
    resource_id    text NOT NULL,
    currency       text NOT NULL,
    synced_through date,
    last_synced_at timestamptz,
    next_sync_at   timestamptz NOT NULL,
    failures       integer NOT NULL DEFAULT 0
);
CREATE INDEX accounts_user ON accounts (user_id);
CREATE INDEX accounts_connection ON accounts (connection_id);
CREATE INDEX accounts_due ON accounts (next_sync_at);

CREATE TABLE account_pulls (
    account_ref text NOT NULL,
    user_id     text NOT NULL,
    pulled_at   timestamptz NOT NULL,
    attended    boolean NOT NULL
);
CREATE INDEX account_pulls_recent ON account_pulls (account_ref, pulled_at);
CREATE INDEX account_pulls_user ON account_pulls (user_id);

CREATE TABLE member_feeds (
    user_id      text PRIMARY KEY,
    last_version bigint NOT NULL DEFAULT 0
);

CREATE TABLE transactions (
    transaction_ref text PRIMARY KEY,
    account_ref     text NOT NULL,
    user_id         text NOT NULL,
    status          text NOT NULL CHECK (status IN ('booked', 'pending')),
    booking_date    date NOT NULL,
    amount          numeric NOT NULL,
    currency        char(3) NOT NULL,
    label           text NOT NULL CHECK (length(label) <= 140),
    created_version bigint NOT NULL,
    version         bigint NOT NULL,
    removed         boolean NOT NULL DEFAULT false
);
CREATE INDEX transactions_feed ON transactions (user_id, version);
CREATE INDEX transactions_pending ON transactions (account_ref, booking_date)
    WHERE status = 'pending' AND NOT removed;

CREATE TABLE teardowns (
    teardown_id        uuid PRIMARY KEY,
    user_id            text NOT NULL,
    vault_ref          text NOT NULL,
    terminate_at_agent boolean NOT NULL,
    attempts           integer NOT NULL DEFAULT 0,
    next_attempt_at    timestamptz NOT NULL
);
CREATE INDEX teardowns_due ON teardowns (next_attempt_at);
