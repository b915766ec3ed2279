"""The statements of ``pg_scoring`` (batch scoring), each taking whole columns as arrays, and
the columns its binary COPYs fill (the same columns as the INSERTs, in the same order)."""

from __future__ import annotations

LOCK = """
SELECT pg_advisory_xact_lock(k)
FROM (SELECT DISTINCT hashtextextended(a, 7041) AS k FROM unnest($1::text[]) AS a ORDER BY 1) l
"""

HEADS = """
SELECT a.ref AS account_ref, acc.owner_ref AS owner,
       coalesce(ch.revision, st.revision) AS revision,
       CASE WHEN ch.revision IS NOT NULL THEN ch.score_id ELSE st.last_change END AS token
FROM unnest($1::text[]) AS a(ref)
LEFT JOIN accounts acc ON acc.account_ref = a.ref
LEFT JOIN account_state st ON st.account_ref = a.ref AND st.revision > 0
LEFT JOIN LATERAL (
    SELECT c.revision, c.score_id FROM account_changes c
    WHERE c.account_ref = a.ref AND c.revision > coalesce(st.revision, 0)
    ORDER BY c.revision DESC LIMIT 1
) ch ON true
"""

OWNERS = """
SELECT o.ref AS owner_ref, s.state::text AS state,
       EXISTS (SELECT 1 FROM members m WHERE m.owner_ref = o.ref) AS member,
       EXISTS (SELECT 1 FROM erased_subjects e WHERE e.digest = o.digest) AS erased
FROM unnest($1::text[], $2::text[]) AS o(ref, digest)
LEFT JOIN owner_state s ON s.owner_ref = o.ref
"""

# Each key probes the unique index (a LATERAL subquery with LIMIT 1 is never flattened into a
# join), whatever the table held when the plan was made. ``= ANY($1)`` under a cached generic
# plan compared every row with every key (97 µs of server CPU per event with 10,000 decisions
# stored); a plain join to ``unnest`` got a generic plan made while the table was nearly empty
# (a fresh schema), a hash join over a sequential scan, kept as the table grew (4.8 ms per
# 200-key batch at ~20,000 scores, against ~0.8 ms probing the index).
SCORES = """
SELECT sc.* FROM unnest($1::text[], $2::text[]) AS k(kind, ref)
CROSS JOIN LATERAL (
    SELECT * FROM scores s WHERE s.kind = k.kind AND s.activity_ref = k.ref LIMIT 1
) sc
"""

DECISIONS = """
SELECT d.* FROM unnest($1::text[]) AS k(id)
CROSS JOIN LATERAL (SELECT * FROM payment_decisions p WHERE p.payment_id = k.id LIMIT 1) d
"""

STATES = """
SELECT account_ref, state::text AS state, last_change FROM account_state
WHERE account_ref = ANY($1::text[]) AND revision > 0
"""

CHANGES = """
SELECT c.* FROM account_changes c
LEFT JOIN account_state st ON st.account_ref = c.account_ref
WHERE c.account_ref = ANY($1::text[]) AND c.revision > coalesce(st.revision, 0)
ORDER BY c.account_ref, c.revision
"""

REGISTER = """
INSERT INTO accounts (account_ref, owner_ref)
SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING
"""

COPY_FROM_ROWS = 16
CHANGE_COLUMNS = (
    "account_ref", "revision", "score_id", "ts", "amount", "precise", "payee_ref", "hour",
)  # fmt: skip
SCORE_COLUMNS = (
    "score_id", "kind", "activity_ref", "account_ref", "owner_ref", "value", "decision",
    "reasons", "features", "model_version", "scored_at", "source_event_id",
)  # fmt: skip
ALERT_COLUMNS = (
    "alert_id", "score_id", "kind", "activity_ref", "account_ref", "owner_ref", "decision",
    "value", "reasons", "raised_at", "status", "verdict", "analyst_id", "resolved_at",
)  # fmt: skip
DECISION_COLUMNS = (
    "payment_id", "account_ref", "owner_ref", "amount", "currency", "payee_ref", "score_id",
    "decision", "status", "alert_id", "decided_at",
)  # fmt: skip

INSERT_CHANGES = """
INSERT INTO account_changes (account_ref, revision, score_id, ts, amount, precise, payee_ref, hour)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::float8[], $5::float8[],
                     $6::boolean[], $7::text[], $8::smallint[])
"""

INSERT_SCORES = """
INSERT INTO scores (score_id, kind, activity_ref, account_ref, owner_ref, value, decision,
                    reasons, features, model_version, scored_at, source_event_id)
SELECT s, k, ar, acc, o, v, d, r::jsonb, f::jsonb, mv, at, src
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[],
            $7::text[], $8::text[], $9::text[], $10::int[], $11::timestamptz[], $12::text[])
     AS u(s, k, ar, acc, o, v, d, r, f, mv, at, src)
"""

INSERT_ALERTS = """
INSERT INTO alerts (alert_id, score_id, kind, activity_ref, account_ref, owner_ref, decision,
                    value, reasons, raised_at, status, verdict, analyst_id, resolved_at)
SELECT a, s, k, ar, acc, o, d, v, r::jsonb, at, st, vd, an, res
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::float8[], $9::text[], $10::timestamptz[], $11::text[], $12::text[], $13::text[],
            $14::timestamptz[])
     AS u(a, s, k, ar, acc, o, d, v, r, at, st, vd, an, res)
"""

INSERT_DECISIONS = """
INSERT INTO payment_decisions (payment_id, account_ref, owner_ref, amount, currency, payee_ref,
                               score_id, decision, status, alert_id, decided_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::text[], $10::text[], $11::timestamptz[])
"""

SNAPSHOT = """
INSERT INTO account_state (account_ref, state, revision, last_change)
SELECT a, s::jsonb, r, t
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) AS u(a, s, r, t)
ON CONFLICT (account_ref) DO UPDATE
SET state = EXCLUDED.state, revision = EXCLUDED.revision, last_change = EXCLUDED.last_change,
    updated_at = now()
WHERE account_state.revision < EXCLUDED.revision
"""

DROP_CHANGES = """
DELETE FROM account_changes c USING unnest($1::text[], $2::bigint[]) AS u(a, r)
WHERE c.account_ref = u.a AND c.revision <= u.r
"""

ACCOUNTS_WITH_HISTORY = """
SELECT account_ref FROM (
    SELECT account_ref, updated_at AS at FROM account_state WHERE revision > 0
    UNION ALL SELECT account_ref, to_timestamp(ts) AS at FROM account_changes
) h GROUP BY account_ref ORDER BY max(at) DESC
"""
