-- One-time e-mail links (registration, password reset) replace pending registrations: a
-- registration no longer carries a password (whoever redeems the link sent to the mailbox
-- chooses it), so the pending rows, which held passwords chosen by whoever asked, are dropped.
-- Links are stored as HMAC-SHA-256 under the pepper, bound to their purpose.
DROP TABLE pending_registrations;

CREATE TABLE email_links (
    token_hash text PRIMARY KEY,
    purpose    text NOT NULL,
    email      text NOT NULL,
    user_id    uuid REFERENCES accounts (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX email_links_address ON email_links (purpose, email);
CREATE INDEX email_links_expiry ON email_links (expires_at);
