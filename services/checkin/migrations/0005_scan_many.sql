-- Scans that reach this process together, decided in one call and one transaction
-- (shared/batching.py): each one exactly as checkin_scan decides it alone, in the order of
-- their tickets, so that two batches take the tickets' locks in the same order. Any other
-- lock a batch would wait for (a device's counters held by another replica's batch) is
-- waited for at most lock_timeout: the batch then fails as a whole, commits nothing, and
-- its scans are decided one by one.
CREATE FUNCTION checkin_scan_many(
    p_device uuid[],
    p_client_scan_id text[],
    p_event text[],
    p_gate text[],
    p_direction text[],
    p_scanned_at timestamptz[],
    p_received_at timestamptz[],
    p_ticket uuid[],
    p_reject text[],
    p_number text[],
    p_event_id uuid[],
    p_subject_prefix text,
    p_correlation text[],
    p_offline_after interval
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
        v_out[i] := checkin_scan(p_device[i], p_client_scan_id[i], p_event[i], p_gate[i],
            p_direction[i], p_scanned_at[i], p_received_at[i], p_ticket[i], p_reject[i],
            p_number[i], p_event_id[i], p_subject_prefix, p_correlation[i],
            p_offline_after, false);
    END LOOP;
    RETURN v_out;
END;
$$;
