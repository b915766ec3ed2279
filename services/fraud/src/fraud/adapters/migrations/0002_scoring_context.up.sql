-- One round trip to lock an account and read what scoring needs. A plpgsql function runs each
-- statement with a fresh snapshot, so the read sees what the lock's previous holder committed.
CREATE FUNCTION scoring_context(
    p_account text, p_owner text, p_kind text, p_ref text, p_payment text
) RETURNS TABLE (
    owner text, member boolean, account jsonb, security jsonb, score json, decision json
) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(p_account, 7041));
    RETURN QUERY
    WITH acct AS (SELECT a.owner_ref FROM accounts a WHERE a.account_ref = p_account)
    SELECT (SELECT acct.owner_ref FROM acct),
           EXISTS (SELECT 1 FROM members m WHERE m.owner_ref = p_owner),
           (SELECT s.state FROM account_state s WHERE s.account_ref = p_account),
           (SELECT o.state FROM owner_state o
             WHERE o.owner_ref = coalesce((SELECT acct.owner_ref FROM acct), p_owner)),
           (SELECT row_to_json(sc) FROM scores sc
             WHERE sc.kind = p_kind AND sc.activity_ref = p_ref),
           (SELECT row_to_json(d) FROM payment_decisions d WHERE d.payment_id = p_payment);
END;
$$;
