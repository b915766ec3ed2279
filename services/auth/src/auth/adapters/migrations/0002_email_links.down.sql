DROP TABLE IF EXISTS email_links;

CREATE TABLE pending_registrations (
    token_hash    text PRIMARY KEY,
    email         text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL
);
CREATE INDEX pending_registrations_expiry ON pending_registrations (expires_at);
