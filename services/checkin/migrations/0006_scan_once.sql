-- Two changes to the scan function of 0004, the rest unchanged:
--
-- 1. The scan row is written once, at the end, with the decision and the answer (it was
--    inserted first as the claim of the client_scan_id, then updated: two row versions and
--    their index entries per scan, and dead rows for autovacuum). The claim is now a
--    transaction-scoped advisory lock on (device, client_scan_id): a retry waits for the
--    first to commit, then reads its answer.
--
-- 2. Scans per 10 seconds, per device, kept by the scan function: the live snapshot's "scans
--    in the last minute" adds up a few of these rows. It counted the scan rows of the last
--    minute instead, on every snapshot (up to five a second): at 1,300 scans a second that
--    is up to 80,000 rows per snapshot, and it cost PostgreSQL more than the scans
--    themselves (0.25 → 0.65 ms of CPU per scan within a minute of load; bench/README.md).
--    Rows per device, so gates never wait for each other's counter.
CREATE TABLE scan_counts (
    event_slug  text NOT NULL,
    bucket      timestamptz NOT NULL,   -- received_at, to 10 seconds
    gate        text NOT NULL,
    device_id   uuid NOT NULL,
    scans       integer NOT NULL DEFAULT 0,
    PRIMARY KEY (event_slug, bucket, gate, device_id)
);

-- Counted from what is already there, so a snapshot right after this migration is right.
INSERT INTO scan_counts (event_slug, bucket, gate, device_id, scans)
SELECT event_slug, date_bin('10 seconds', received_at, '2000-01-01 00:00+00'), gate,
       device_id, count(*)
FROM scans
WHERE received_at > now() - interval '2 minutes'
GROUP BY 1, 2, 3, 4;

CREATE OR REPLACE FUNCTION checkin_scan(
    p_device uuid,
    p_client_scan_id text,
    p_event text,
    p_gate text,
    p_direction text,
    p_scanned_at timestamptz,
    p_received_at timestamptz,
    p_ticket uuid,          -- the genuine ticket's id (NULL if rejected before, or typed)
    p_reject text,          -- a reason decided before (invalid_signature, wrong_event)
    p_number text,          -- a typed ticket number (12 hex digits, lower case)
    p_event_id uuid,        -- the id of the fact this scan publishes, if any
    p_subject_prefix text,  -- '<namespace>.checkin.'
    p_correlation text,
    p_offline_after interval,
    p_unsafe_no_lock boolean DEFAULT false  -- the concurrency test's control run only
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_ticket uuid := p_ticket;
    v_result text;
    v_reason text := p_reject;
    v_row presence%ROWTYPE;
    v_found boolean := false;
    v_t record;
    v_people integer := 0;
    v_reentry boolean := false;
    v_dup boolean := false;
    v_attendee jsonb;
    v_response jsonb;
    v_type text;
    v_payload jsonb;
    v_first jsonb;
BEGIN
    -- The claim of the client_scan_id: a retry arriving while the first is being decided
    -- waits here until it commits, then finds its answer.
    PERFORM pg_advisory_xact_lock(
        hashtextextended(p_device::text || '/' || p_client_scan_id, 11));
    SELECT response INTO v_first FROM scans
     WHERE device_id = p_device AND client_scan_id = p_client_scan_id;
    IF FOUND THEN  -- a retry: the first answer, nothing changed
        RETURN jsonb_build_object('fresh', false, 'response', v_first);
    END IF;

    IF coalesce((SELECT revoked FROM devices WHERE id = p_device), false) THEN
        v_result := 'rejected'; v_reason := 'device_revoked'; v_ticket := NULL;
    ELSIF v_reason IS NOT NULL THEN
        v_result := 'rejected';
    ELSE
        IF p_number IS NOT NULL THEN
            SELECT id INTO v_ticket FROM tickets
            WHERE event_slug = p_event AND right(replace(id::text, '-', ''), 12) = p_number
              AND party_size IS NOT NULL;
        END IF;
        IF v_ticket IS NULL THEN
            v_result := 'rejected'; v_reason := 'unknown_ticket';
        ELSE
            -- Two gates scanning one ticket take turns here.
            IF NOT p_unsafe_no_lock THEN
                PERFORM pg_advisory_xact_lock(hashtextextended(v_ticket::text, 7));
            END IF;
            SELECT * INTO v_row FROM presence WHERE ticket_id = v_ticket;
            v_found := FOUND;
            IF p_unsafe_no_lock THEN
                PERFORM pg_sleep(0.005);  -- the control's race window: read, then write
            END IF;
            SELECT t.party_size, t.display_name, t.category, t.language, t.revoked,
                   coalesce(c.reentry, false) AS reentry
              INTO v_t
              FROM tickets t
              LEFT JOIN categories c ON c.event_slug = t.event_slug AND c.code = t.category
             WHERE t.id = v_ticket;
            IF v_t.party_size IS NOT NULL THEN
                v_attendee := jsonb_build_object('display_name', v_t.display_name,
                    'party_size', v_t.party_size, 'category', v_t.category,
                    'language', v_t.language);
            END IF;
            -- domain.decide
            IF coalesce(v_t.revoked, false) THEN
                v_result := 'rejected'; v_reason := 'cancelled';
            ELSIF p_direction = 'in' THEN
                IF NOT v_found THEN
                    v_result := 'admitted';
                ELSIF v_row.inside OR NOT coalesce(v_t.reentry, false) THEN
                    v_result := 'already_admitted';
                ELSE
                    v_result := 'admitted'; v_reentry := true;
                END IF;
            ELSIF NOT v_found OR NOT v_row.inside THEN
                v_result := 'rejected'; v_reason := 'not_admitted_yet';
            ELSE
                v_result := 'exited';
            END IF;

            IF v_result = 'admitted' THEN
                v_people := coalesce(v_t.party_size, 1);
                IF NOT v_found THEN
                    INSERT INTO presence (ticket_id, event_slug, inside, people, entries,
                        first_gate, first_device, first_at, last_gate, last_at)
                    VALUES (v_ticket, p_event, true, v_people, 1, p_gate, p_device,
                        p_scanned_at, p_gate, p_scanned_at)
                    -- Never taken under the lock; without it (the control run) two gates
                    -- would both "admit" here, which is what the control must show.
                    ON CONFLICT (ticket_id) DO UPDATE SET entries = presence.entries + 1;
                ELSE
                    UPDATE presence SET inside = true, entries = entries + 1,
                        last_gate = p_gate, last_at = p_scanned_at
                    WHERE ticket_id = v_ticket;
                END IF;
                INSERT INTO gate_counts AS g (event_slug, gate, device_id, admitted_parties,
                    admitted_people, inside_people, last_scan_at)
                VALUES (p_event, p_gate, p_device, CASE WHEN v_found THEN 0 ELSE 1 END,
                    CASE WHEN v_found THEN 0 ELSE v_people END, v_people, p_received_at)
                ON CONFLICT (event_slug, gate, device_id) DO UPDATE SET
                    admitted_parties = g.admitted_parties + EXCLUDED.admitted_parties,
                    admitted_people = g.admitted_people + EXCLUDED.admitted_people,
                    inside_people = g.inside_people + EXCLUDED.inside_people,
                    last_scan_at = EXCLUDED.last_scan_at;
                IF NOT v_found THEN  -- first entries only: arrivals, not re-entries
                    INSERT INTO arrivals AS a (event_slug, bucket, device_id, people)
                    VALUES (p_event, date_bin('5 minutes', p_scanned_at,
                        '2000-01-01 00:00+00'), p_device, v_people)
                    ON CONFLICT (event_slug, bucket, device_id) DO UPDATE SET
                        people = a.people + EXCLUDED.people;
                END IF;
            ELSIF v_result = 'exited' THEN
                v_people := v_row.people;
                UPDATE presence SET inside = false, last_gate = p_gate, last_at = p_scanned_at
                WHERE ticket_id = v_ticket;
                INSERT INTO gate_counts AS g (event_slug, gate, device_id, inside_people,
                    last_scan_at)
                VALUES (p_event, p_gate, p_device, -v_people, p_received_at)
                ON CONFLICT (event_slug, gate, device_id) DO UPDATE SET
                    inside_people = g.inside_people + EXCLUDED.inside_people,
                    last_scan_at = EXCLUDED.last_scan_at;
            ELSIF v_result = 'already_admitted' AND v_found THEN
                v_dup := p_received_at - p_scanned_at > p_offline_after;
            END IF;
        END IF;
    END IF;

    v_response := jsonb_build_object('client_scan_id', p_client_scan_id, 'result', v_result);
    IF v_reason IS NOT NULL THEN
        v_response := v_response || jsonb_build_object('reason', v_reason);
    END IF;
    IF v_attendee IS NOT NULL AND v_result <> 'rejected' THEN
        v_response := v_response || jsonb_build_object('attendee', v_attendee);
    END IF;
    IF v_result = 'already_admitted' AND v_found THEN
        v_response := v_response || jsonb_build_object('first_gate', v_row.first_gate,
            'first_at', v_row.first_at);
    END IF;
    INSERT INTO scans (device_id, client_scan_id, event_slug, gate, direction, scanned_at,
                       received_at, ticket_id, result, reason, offline_duplicate, response)
    VALUES (p_device, p_client_scan_id, p_event, p_gate, p_direction, p_scanned_at,
            p_received_at, v_ticket, v_result, v_reason, v_dup, v_response);

    -- The fact, in the envelope every service reads (shared/events.py).
    v_payload := jsonb_build_object('ticket_id', v_ticket, 'gate', p_gate,
        'device_id', p_device, 'scanned_at', p_scanned_at);
    IF v_result = 'admitted' THEN
        v_type := 'checkin.admitted';
        v_payload := v_payload || jsonb_build_object('people', v_people, 'reentry', v_reentry);
    ELSIF v_result = 'exited' THEN
        v_type := 'checkin.exited';
        v_payload := v_payload || jsonb_build_object('people', v_people);
    ELSIF v_result = 'rejected' THEN
        v_type := 'checkin.rejected';
        v_payload := v_payload || jsonb_build_object('reason', v_reason);
    END IF;
    IF v_type IS NOT NULL THEN
        INSERT INTO outbox (id, subject, event_type, event_slug, body, correlation_id)
        VALUES (p_event_id, p_subject_prefix || v_type, v_type, p_event,
            convert_to(jsonb_build_object('id', p_event_id, 'type', v_type,
                'publisher', 'checkin', 'version', 1, 'occurred_at', p_received_at,
                'event', p_event, 'correlation_id', p_correlation,
                'payload', v_payload)::text, 'UTF8'),
            p_correlation);
    END IF;
    INSERT INTO scan_counts AS c (event_slug, gate, device_id, bucket, scans)
    VALUES (p_event, p_gate, p_device,
            date_bin('10 seconds', p_received_at, '2000-01-01 00:00+00'), 1)
    ON CONFLICT (event_slug, bucket, gate, device_id) DO UPDATE SET scans = c.scans + 1;
    RETURN jsonb_build_object('fresh', true, 'response', v_response);
END;
$$;
