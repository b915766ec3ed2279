-- A per-subject counter that moves whenever the subject's data keys or erasure hold change
-- (erasure, hold, release), always in a transaction that also appends to the audit chain.
-- Replicas cache a subject's key rows and hold with the epoch they read; the audit appender
-- writes an entry decided on a cached state only while that epoch is still current.
CREATE TABLE subject_epochs (
    subject  TEXT   PRIMARY KEY,
    epoch    BIGINT NOT NULL CHECK (epoch >= 1)
);
