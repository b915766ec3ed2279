-- Account state kept in memory by the scoring replica: every outflow folded into an account is
-- written as a change at the account's new revision (one narrow row, set-based per batch); the
-- whole state (account_state) is a snapshot written every few changes or seconds, after which
-- the changes it covers are deleted. State = snapshot + changes after its revision, in order.
CREATE TABLE account_changes (
    account_ref  text NOT NULL,
    revision     bigint NOT NULL,
    score_id     text NOT NULL,
    ts           double precision NOT NULL,
    amount       double precision NOT NULL,
    precise      boolean NOT NULL,
    payee_ref    text,
    hour         smallint NOT NULL CHECK (hour BETWEEN 0 AND 23),
    PRIMARY KEY (account_ref, revision)
);

-- The score id of the last change a snapshot covers (with its revision: the account's head).
ALTER TABLE account_state ADD COLUMN last_change text;
