-- Booth scans that reach this process together, decided in one call and one transaction
-- (shared/batching.py): each one exactly as stamprally_stamp decides it alone, in the
-- order of their tickets, so that two batches take the cards' locks in the same order.
-- Any other lock a batch would wait for (a booth's counter held by another replica's
-- batch) is waited for at most lock_timeout: the batch then fails as a whole, commits
-- nothing, and its scans are decided one by one.
CREATE FUNCTION stamprally_stamp_many(
    p_device uuid[],
    p_client_scan_id text[],
    p_event text[],
    p_booth text[],
    p_ticket uuid[],
    p_reject text[],
    p_at timestamptz[],
    p_stamp_fact uuid[],
    p_completed_fact uuid[],
    p_subject_prefix text,
    p_correlation text[]
) RETURNS jsonb[]
LANGUAGE plpgsql AS $$
DECLARE
    v_out jsonb[] := array_fill(NULL::jsonb, ARRAY[cardinality(p_device)]);
    i bigint;
BEGIN
    PERFORM set_config('lock_timeout', '200ms', true);
    FOR i IN
        SELECT n FROM unnest(p_ticket) WITH ORDINALITY AS t(ticket, n)
        ORDER BY ticket NULLS FIRST, n
    LOOP
        v_out[i] := stamprally_stamp(p_device[i], p_client_scan_id[i], p_event[i],
            p_booth[i], p_ticket[i], p_reject[i], p_at[i], p_stamp_fact[i],
            p_completed_fact[i], p_subject_prefix, p_correlation[i], false);
    END LOOP;
    RETURN v_out;
END;
$$;
