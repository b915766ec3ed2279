-- OpenID Connect beside SAML: a tenant may trust a SAML IdP, an OIDC provider, or both.
ALTER TABLE tenants ALTER COLUMN idp_entity_id DROP NOT NULL;
ALTER TABLE tenants ALTER COLUMN idp_metadata_xml DROP NOT NULL;

-- The client credential (secret or private key) is sealed (AES-256-GCM, bound to the tenant).
CREATE TABLE oidc_clients (
    tenant_id           uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    issuer              text NOT NULL,
    client_id           text NOT NULL,
    client_auth         text NOT NULL CHECK (client_auth IN ('client_secret_basic', 'private_key_jwt')),
    redirect_uri        text NOT NULL,
    scopes              text[] NOT NULL,
    algorithms          text[] NOT NULL,
    link_verified_email boolean NOT NULL DEFAULT false,
    credential_sealed   bytea NOT NULL,
    created_at          timestamptz NOT NULL
);

-- One authorization request in flight: state, nonce and browser binding as keyed digests, the
-- PKCE verifier sealed; a row is deleted when its answer arrives (single use).
CREATE TABLE oidc_logins (
    state_digest      text PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    nonce_digest      text NOT NULL,
    browser_digest    text NOT NULL,
    verifier_sealed   bytea NOT NULL,
    expires_at        timestamptz NOT NULL
);
CREATE INDEX oidc_logins_expiry ON oidc_logins (expires_at);
