-- Members erased from this schema, known only by the SHA-256 digest of their id (and of their
-- other references, e.g. account refs): late or redelivered events about them are recognised and
-- dropped, and their outbox rows still unsent at the erasure are purged once the relay sent them
-- (`purged_at` stays null until none is left; only rows from `purge_from_id` on are re-read).
-- See common.db.erasure.
CREATE TABLE erased_subjects (
    digest       TEXT        PRIMARY KEY,
    key_digests  TEXT[]      NOT NULL DEFAULT '{}',
    purge_from_id BIGINT     NOT NULL DEFAULT 0,
    erased_at    TIMESTAMPTZ NOT NULL,
    purged_at    TIMESTAMPTZ
);
CREATE INDEX erased_subjects_purge_pending ON erased_subjects (erased_at) WHERE purged_at IS NULL;
