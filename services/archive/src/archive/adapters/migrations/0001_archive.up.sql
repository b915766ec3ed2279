CREATE TABLE receipts (
    receipt_id uuid PRIMARY KEY,
    user_id text NOT NULL,
    source text NOT NULL,
    filename text NOT NULL,
    content_type text NOT NULL,
    original_sha256 text NOT NULL,
    original_size integer NOT NULL,
    pdf_sha256 text NOT NULL,
    created_at timestamptz NOT NULL,
    vault_subject text NOT NULL,
    wrapped_key bytea NOT NULL,
    document_key_id text NOT NULL,
    transaction_ref text,
    payment_id text,
    amount numeric(19, 4),
    currency text,
    spent_on date,
    status text NOT NULL CHECK (status IN ('received', 'sealed', 'shredded')),
    sealed_sha256 text,
    sealed_size integer,
    sealed_at timestamptz,
    retention_until timestamptz,
    sealed_object text,
    sealed_version text,
    sealed_cipher_sha256 text,
    original_object text,
    original_version text,
    original_cipher_sha256 text,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_error text,
    matched_kind text,
    matched_ref text,
    erasure_requested_at timestamptz,
    shredded_at timestamptz
);
CREATE INDEX receipts_member ON receipts (user_id, created_at DESC);
CREATE INDEX receipts_due ON receipts (next_attempt_at) WHERE status = 'received';
CREATE INDEX receipts_shred ON receipts (retention_until)
    WHERE status = 'sealed' AND erasure_requested_at IS NOT NULL;

-- Ciphertexts waiting for the seal and the store (never plaintext).
CREATE TABLE staged_objects (
    receipt_id uuid NOT NULL REFERENCES receipts (receipt_id) ON DELETE CASCADE,
    part text NOT NULL,
    blob bytea NOT NULL,
    PRIMARY KEY (receipt_id, part)
);

CREATE TABLE journal (
    seq bigint PRIMARY KEY,
    at timestamptz NOT NULL,
    receipt_id text,
    user_id text,
    action text NOT NULL,
    detail jsonb NOT NULL,
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL
);
CREATE INDEX journal_receipt ON journal (receipt_id);

CREATE FUNCTION journal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the receipts journal is append-only';
END;
$$;
CREATE TRIGGER journal_no_update BEFORE UPDATE OR DELETE ON journal
    FOR EACH ROW EXECUTE FUNCTION journal_append_only();

CREATE TABLE mail_addresses (
    user_id text PRIMARY KEY,
    token text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mail_senders (
    user_id text NOT NULL,
    address text NOT NULL,
    PRIMARY KEY (user_id, address)
);

CREATE TABLE movements (
    kind text NOT NULL,
    ref text NOT NULL,
    user_id text NOT NULL,
    amount numeric(19, 4) NOT NULL,
    currency text NOT NULL,
    on_date date NOT NULL,
    matched_receipt text,
    PRIMARY KEY (kind, ref)
);
CREATE INDEX movements_unmatched ON movements (user_id) WHERE matched_receipt IS NULL;
