-- One booth scan, decided and written in one round trip (see service.stamp). The rules
-- are those of domain.decide_stamp and domain.is_complete; the rules test
-- (tests/integration/test_stamprally_rules.py) runs every case through both.
--
-- Under READ COMMITTED each statement takes a new snapshot, so the stamps read after the
-- card's row lock are the latest committed ones.
CREATE FUNCTION stamprally_stamp(
    p_device uuid,
    p_client_scan_id text,
    p_event text,
    p_booth text,
    p_ticket uuid,          -- the genuine ticket's id (NULL if its signature failed)
    p_reject text,          -- a reason decided before (invalid_signature, wrong_event)
    p_at timestamptz,       -- when the booth scanned
    p_stamp_fact uuid,      -- ids of the facts this stamp may publish
    p_completed_fact uuid,
    p_subject_prefix text,  -- '<namespace>.stamprally.'
    p_correlation text,
    p_unsafe_no_lock boolean DEFAULT false  -- the concurrency test's control run only
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_result text;
    v_reason text := p_reject;
    v_rally rallies%ROWTYPE;
    v_has_rally boolean;
    v_t record;
    v_card cards%ROWTYPE;
    v_stamped text[] := '{}';
    v_inserted boolean := false;
    v_completed boolean := false;
    v_newly boolean := false;
    v_count integer;
    v_required text[] := '{}';
    v_min integer := 0;
    v_response jsonb;
BEGIN
    INSERT INTO scan_answers (device_id, client_scan_id, kind)
    VALUES (p_device, p_client_scan_id, 'stamp') ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN  -- a retry: the first answer, nothing changed
        RETURN jsonb_build_object('fresh', false, 'response',
            (SELECT response FROM scan_answers
             WHERE device_id = p_device AND client_scan_id = p_client_scan_id));
    END IF;

    SELECT * INTO v_rally FROM rallies WHERE event = p_event;
    v_has_rally := FOUND;
    IF v_has_rally THEN
        v_required := v_rally.required_booths;
        v_min := v_rally.min_stamps;
    END IF;
    SELECT t.revoked, t.registration_id, t.display_name, t.language INTO v_t
      FROM tickets t WHERE t.id = p_ticket;

    -- domain.decide_stamp, in its order
    IF v_reason IS NOT NULL THEN
        v_result := 'rejected';
    ELSIF coalesce((SELECT revoked FROM devices WHERE id = p_device), false) THEN
        v_result := 'rejected'; v_reason := 'device_revoked';
    ELSIF NOT v_has_rally
          OR (v_rally.opens_at IS NOT NULL AND p_at < v_rally.opens_at)
          OR (v_rally.closes_at IS NOT NULL AND p_at >= v_rally.closes_at) THEN
        v_result := 'rejected'; v_reason := 'rally_closed';
    ELSIF NOT EXISTS (SELECT 1 FROM booths
                      WHERE event = p_event AND code = p_booth AND active) THEN
        v_result := 'rejected'; v_reason := 'wrong_booth';
    ELSIF coalesce(v_t.revoked, false) THEN
        v_result := 'rejected'; v_reason := 'cancelled';
    ELSIF v_rally.requires_checkin
          AND NOT EXISTS (SELECT 1 FROM checked_in WHERE ticket_id = p_ticket) THEN
        v_result := 'rejected'; v_reason := 'not_checked_in';
    ELSE
        -- Two booths scanning one person take turns from here.
        IF p_unsafe_no_lock THEN
            INSERT INTO cards (ticket_id, event) VALUES (p_ticket, p_event)
            ON CONFLICT DO NOTHING;
            SELECT * INTO v_card FROM cards WHERE ticket_id = p_ticket;
        ELSE
            INSERT INTO cards (ticket_id, event) VALUES (p_ticket, p_event)
            ON CONFLICT (ticket_id) DO UPDATE SET event = cards.event
            RETURNING * INTO v_card;
        END IF;
        SELECT coalesce(array_agg(booth), '{}') INTO v_stamped
          FROM stamps WHERE ticket_id = p_ticket;
        IF p_unsafe_no_lock THEN
            PERFORM pg_sleep(0.002);  -- the control's race window: read, then write
        END IF;
        IF p_booth = ANY (v_stamped) THEN
            v_result := 'already_stamped';
        ELSE
            INSERT INTO stamps (ticket_id, booth, event, device_id, at)
            VALUES (p_ticket, p_booth, p_event, p_device, p_at) ON CONFLICT DO NOTHING;
            v_inserted := FOUND OR p_unsafe_no_lock;  -- the control trusts its read
            IF NOT v_inserted THEN
                v_result := 'already_stamped';
            ELSE
                v_result := 'stamped';
                v_stamped := array_append(v_stamped, p_booth);
            END IF;
        END IF;
    END IF;

    IF v_result IN ('stamped', 'already_stamped') THEN
        -- domain.is_complete
        v_completed := v_required <@ v_stamped
            AND (SELECT count(DISTINCT b) FROM unnest(v_stamped) AS b) >= v_min;
    END IF;
    IF v_result = 'stamped' THEN
        v_newly := v_completed AND v_card.completed_at IS NULL;
        UPDATE cards SET stamps = stamps + 1,
                         completed_at = CASE WHEN v_newly THEN p_at ELSE completed_at END
         WHERE ticket_id = p_ticket RETURNING stamps INTO v_count;
        INSERT INTO booth_counts AS b (event, booth, stamps) VALUES (p_event, p_booth, 1)
        ON CONFLICT (event, booth) DO UPDATE SET stamps = b.stamps + 1;
        INSERT INTO outbox (id, subject, event_type, event_slug, body, correlation_id)
        VALUES (p_stamp_fact, p_subject_prefix || 'stamp.collected', 'stamp.collected',
            p_event,
            convert_to(jsonb_build_object('id', p_stamp_fact, 'type', 'stamp.collected',
                'publisher', 'stamprally', 'version', 1, 'occurred_at', p_at,
                'event', p_event, 'correlation_id', p_correlation,
                'payload', jsonb_build_object('ticket_id', p_ticket,
                    'registration_id', v_t.registration_id, 'booth', p_booth,
                    'device_id', p_device, 'stamps', v_count))::text, 'UTF8'),
            p_correlation);
        IF v_newly THEN
            INSERT INTO rally_counts AS r (event, completed) VALUES (p_event, 1)
            ON CONFLICT (event) DO UPDATE SET completed = r.completed + 1;
            IF v_t.registration_id IS NOT NULL THEN
                INSERT INTO outbox (id, subject, event_type, event_slug, body, correlation_id)
                VALUES (p_completed_fact, p_subject_prefix || 'rally.completed',
                    'rally.completed', p_event,
                    convert_to(jsonb_build_object('id', p_completed_fact,
                        'type', 'rally.completed', 'publisher', 'stamprally', 'version', 1,
                        'occurred_at', p_at, 'event', p_event,
                        'correlation_id', p_correlation,
                        'payload', jsonb_build_object('ticket_id', p_ticket,
                            'registration_id', v_t.registration_id,
                            'stamps', v_count))::text, 'UTF8'),
                    p_correlation);
            END IF;
        END IF;
    ELSIF v_result = 'already_stamped' THEN
        v_completed := v_card.completed_at IS NOT NULL;
    END IF;

    v_response := jsonb_build_object('client_scan_id', p_client_scan_id, 'result', v_result);
    IF v_reason IS NOT NULL THEN
        v_response := v_response || jsonb_build_object('reason', v_reason);
    END IF;
    IF v_result <> 'rejected' THEN
        v_response := v_response || jsonb_build_object(
            'booth', p_booth,
            'stamps', (SELECT count(DISTINCT b) FROM unnest(v_stamped) AS b),
            'required', greatest(v_min, coalesce(array_length(v_required, 1), 0)),
            'missing_booths', to_jsonb(ARRAY(SELECT r FROM unnest(v_required) AS r
                                            WHERE NOT r = ANY (v_stamped))),
            'completed', v_completed);
        IF v_t.display_name IS NOT NULL THEN
            v_response := v_response || jsonb_build_object('attendee',
                jsonb_build_object('display_name', v_t.display_name,
                                   'language', v_t.language));
        END IF;
    END IF;
    IF p_ticket IS NOT NULL THEN
        v_response := v_response || jsonb_build_object('ticket_id', p_ticket);
    END IF;
    UPDATE scan_answers SET ticket_id = p_ticket, result = v_result, reason = v_reason,
                            response = v_response
     WHERE device_id = p_device AND client_scan_id = p_client_scan_id;
    RETURN jsonb_build_object('fresh', true, 'response', v_response);
END;
$$;
