-- A registration decided and written in one call (until now one statement sent by
-- repository.register_in_one_statement, the same statement): take the category row's
-- lock, decide against the latest committed counts, move the counters, insert the
-- registration (confirmed, or waiting with its place in the queue), its ticket if
-- confirmed, the facts of the outcome (the queue place patched in) and the idempotency
-- record with its answer. Returns [fits, waitlist_parties], or NULL when the party would
-- fit and no ticket was prepared (nothing is written; the caller comes back with one).
CREATE FUNCTION registration_register(
    p_id uuid,
    p_event text,
    p_category text,
    p_name text,
    p_name_kana text,
    p_email text,
    p_phone text,
    p_language text,
    p_party_size integer,
    p_answers jsonb,
    p_notify_by text,
    p_secret_hash bytea,
    p_dup_guard boolean,
    p_created_by uuid,
    p_ticket uuid,
    p_kid text,
    p_qr_text text,
    p_image_key_hash bytea,
    p_correlation text,
    p_o_ids uuid[],         -- the facts of both outcomes, for the outbox
    p_o_subjects text[],
    p_o_types text[],
    p_o_bodies bytea[],
    p_o_for_fits boolean[], -- the outcome each fact belongs to
    p_o_patch boolean[],    -- whether its payload gets the queue place
    p_key text,             -- the idempotency key (NULL without one)
    p_request_hash bytea,
    p_answer_fits jsonb,    -- the API answers of both outcomes
    p_answer_wait jsonb
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_fits boolean;
    v_queue integer;
BEGIN
    WITH cur AS (
        SELECT capacity - confirmed_people >= p_party_size AS fits FROM categories
        WHERE event_slug = p_event AND code = p_category FOR NO KEY UPDATE
    ), upd AS (
        UPDATE categories c SET
            confirmed_people = c.confirmed_people
                + CASE WHEN cur.fits THEN p_party_size ELSE 0 END,
            waitlist_people = c.waitlist_people + CASE WHEN cur.fits THEN 0 ELSE p_party_size END,
            waitlist_parties = c.waitlist_parties + CASE WHEN cur.fits THEN 0 ELSE 1 END
        FROM cur WHERE c.event_slug = p_event AND c.code = p_category
          AND (NOT cur.fits OR p_ticket IS NOT NULL)
        RETURNING cur.fits, c.waitlist_parties
    ), reg AS (
        INSERT INTO registrations (id, event_slug, category_code, status, name, name_kana,
            email, phone, language, party_size, answers, notify_by, secret_hash,
            dup_guard, created_by, waitlist_seq)
        SELECT p_id, p_event, p_category,
               CASE WHEN upd.fits THEN 'confirmed' ELSE 'waitlisted' END,
               p_name, p_name_kana, p_email, p_phone, p_language, p_party_size, p_answers,
               p_notify_by, p_secret_hash, p_dup_guard, p_created_by,
               CASE WHEN upd.fits THEN NULL ELSE nextval('waitlist_order') END
        FROM upd
        RETURNING 1
    ), ticket AS (
        INSERT INTO tickets (id, registration_id, event_slug, kid, qr_text, image_key_hash,
                             status)
        SELECT p_ticket, p_id, p_event, p_kid, p_qr_text, p_image_key_hash, 'active'
        FROM upd WHERE upd.fits
        RETURNING 1
    ), facts AS (
        INSERT INTO outbox (id, subject, event_type, event_slug, body, correlation_id)
        SELECT o.id, o.subject, o.event_type, p_event,
               CASE WHEN o.patch THEN convert_to(jsonb_set(
                        convert_from(o.body, 'UTF8')::jsonb, '{payload,position}',
                        to_jsonb(upd.waitlist_parties))::text, 'UTF8')
                    ELSE o.body END,
               p_correlation
        FROM unnest(p_o_ids, p_o_subjects, p_o_types, p_o_bodies, p_o_for_fits, p_o_patch)
             WITH ORDINALITY AS o(id, subject, event_type, body, for_fits, patch, n), upd
        WHERE o.for_fits = upd.fits
        ORDER BY o.n
        RETURNING 1
    ), answer AS (
        INSERT INTO idempotency_keys (key, request_hash, status, response)
        SELECT p_key, p_request_hash, 201,
               CASE WHEN upd.fits THEN p_answer_fits
                    ELSE jsonb_set(p_answer_wait, '{waitlist_position}',
                                   to_jsonb(upd.waitlist_parties)) END
        FROM upd WHERE p_key IS NOT NULL
        RETURNING 1
    )
    SELECT upd.fits, upd.waitlist_parties INTO v_fits, v_queue
    FROM upd, (SELECT (SELECT count(*) FROM reg) + (SELECT count(*) FROM ticket)
                      + (SELECT count(*) FROM facts) + (SELECT count(*) FROM answer)) AS w;
    IF v_fits IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN jsonb_build_array(v_fits, v_queue);
END;
$$;

-- Registrations that reach this process together, in one call and one transaction
-- (shared/batching.py): each decided by registration_register exactly as alone, first
-- come first served within a category, the categories in a fixed order so that two
-- batches take their rows' locks in the same order. A batch never waits long on a lock
-- another batch holds in some other order (an e-mail's unique entry): after lock_timeout
-- it fails as a whole, commits nothing, and its registrations are decided one by one.
-- The facts of all items come flattened, each tagged with its item's position (p_o_item).
CREATE FUNCTION registration_register_many(
    p_id uuid[],
    p_event text[],
    p_category text[],
    p_name text[],
    p_name_kana text[],
    p_email text[],
    p_phone text[],
    p_language text[],
    p_party_size integer[],
    p_answers jsonb[],
    p_notify_by text[],
    p_secret_hash bytea[],
    p_dup_guard boolean[],
    p_created_by uuid[],
    p_ticket uuid[],
    p_kid text[],
    p_qr_text text[],
    p_image_key_hash bytea[],
    p_correlation text[],
    p_o_item integer[],
    p_o_ids uuid[],
    p_o_subjects text[],
    p_o_types text[],
    p_o_bodies bytea[],
    p_o_for_fits boolean[],
    p_o_patch boolean[],
    p_key text[],
    p_request_hash bytea[],
    p_answer_fits jsonb[],
    p_answer_wait jsonb[]
) RETURNS jsonb[]
LANGUAGE plpgsql AS $$
DECLARE
    v_out jsonb[] := array_fill(NULL::jsonb, ARRAY[cardinality(p_id)]);
    i bigint;
    v_rows integer[];
BEGIN
    PERFORM set_config('lock_timeout', '200ms', true);
    FOR i IN
        SELECT n FROM unnest(p_event, p_category) WITH ORDINALITY AS t(event, category, n)
        ORDER BY event, category, n
    LOOP
        v_rows := ARRAY(SELECT k FROM generate_subscripts(p_o_item, 1) AS k
                        WHERE p_o_item[k] = i ORDER BY k);
        v_out[i] := registration_register(p_id[i], p_event[i], p_category[i], p_name[i],
            p_name_kana[i], p_email[i], p_phone[i], p_language[i], p_party_size[i],
            p_answers[i], p_notify_by[i], p_secret_hash[i], p_dup_guard[i], p_created_by[i],
            p_ticket[i], p_kid[i], p_qr_text[i], p_image_key_hash[i], p_correlation[i],
            ARRAY(SELECT p_o_ids[k] FROM unnest(v_rows) WITH ORDINALITY AS r(k, o) ORDER BY o),
            ARRAY(SELECT p_o_subjects[k] FROM unnest(v_rows) WITH ORDINALITY AS r(k, o)
                  ORDER BY o),
            ARRAY(SELECT p_o_types[k] FROM unnest(v_rows) WITH ORDINALITY AS r(k, o)
                  ORDER BY o),
            ARRAY(SELECT p_o_bodies[k] FROM unnest(v_rows) WITH ORDINALITY AS r(k, o)
                  ORDER BY o),
            ARRAY(SELECT p_o_for_fits[k] FROM unnest(v_rows) WITH ORDINALITY AS r(k, o)
                  ORDER BY o),
            ARRAY(SELECT p_o_patch[k] FROM unnest(v_rows) WITH ORDINALITY AS r(k, o)
                  ORDER BY o),
            p_key[i], p_request_hash[i], p_answer_fits[i], p_answer_wait[i]);
    END LOOP;
    RETURN v_out;
END;
$$;
