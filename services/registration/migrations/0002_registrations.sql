-- Registrations, waiting lists, tickets, organizers, sessions, idempotency, devices.

-- Counters kept with every write (capacity is decided against them in one statement).
ALTER TABLE categories
    ADD COLUMN confirmed_people integer NOT NULL DEFAULT 0,
    ADD COLUMN waitlist_people  integer NOT NULL DEFAULT 0,
    ADD COLUMN waitlist_parties integer NOT NULL DEFAULT 0,
    ADD COLUMN pending_people   integer NOT NULL DEFAULT 0,
    ADD COLUMN allow_duplicates boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT capacity_respected CHECK (confirmed_people <= capacity),
    ADD CONSTRAINT counters_positive CHECK (
        confirmed_people >= 0 AND waitlist_people >= 0 AND pending_people >= 0
        AND waitlist_parties >= 0);

CREATE SEQUENCE waitlist_order;

CREATE TABLE registrations (
    id             uuid PRIMARY KEY,
    event_slug     text NOT NULL,
    category_code  text NOT NULL,
    status         text NOT NULL CHECK (status IN
                       ('confirmed', 'waitlisted', 'pending_review', 'rejected', 'cancelled')),
    name           text NOT NULL,
    name_kana      text,
    email          text,
    phone          text,
    language       text NOT NULL,
    party_size     integer NOT NULL CHECK (party_size BETWEEN 1 AND 20),
    answers        jsonb NOT NULL DEFAULT '{}',
    notify_by      text NOT NULL CHECK (notify_by IN ('email', 'sms', 'both', 'none')),
    secret_hash    bytea NOT NULL,
    waitlist_seq   bigint,
    dup_guard      boolean NOT NULL DEFAULT true,
    created_by     uuid,            -- the organizer, for staff-assisted registrations
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
    -- No foreign key to categories on purpose: every registration would take a KEY SHARE
    -- lock on its category's row, the hottest row of the burst, and concurrent lockers
    -- turn it into a multixact that each new one must copy. The service checks the
    -- category; a category with registrations cannot be removed (service.save_event).
);
CREATE INDEX registrations_by_event ON registrations (event_slug, created_at, id);
CREATE INDEX registrations_waiting ON registrations (event_slug, category_code, waitlist_seq)
    WHERE status = 'waitlisted';
-- One active registration per (event, category, email) and per (event, category, phone).
CREATE UNIQUE INDEX one_active_per_email ON registrations (event_slug, category_code, lower(email))
    WHERE status IN ('confirmed', 'waitlisted', 'pending_review') AND dup_guard
          AND email IS NOT NULL;
CREATE UNIQUE INDEX one_active_per_phone ON registrations (event_slug, category_code, phone)
    WHERE status IN ('confirmed', 'waitlisted', 'pending_review') AND dup_guard
          AND phone IS NOT NULL;

CREATE TABLE tickets (
    id               uuid PRIMARY KEY,
    registration_id  uuid NOT NULL REFERENCES registrations (id),
    event_slug       text NOT NULL,
    kid              text NOT NULL,
    qr_text          text NOT NULL,
    image_key_hash   bytea NOT NULL,
    status           text NOT NULL CHECK (status IN ('active', 'revoked')),
    revision         integer NOT NULL DEFAULT 1,  -- grows when party size or language change
    issued_at        timestamptz NOT NULL DEFAULT now(),
    revoked_at       timestamptz
);
CREATE UNIQUE INDEX one_active_ticket ON tickets (registration_id) WHERE status = 'active';

CREATE TABLE organizers (
    id             uuid PRIMARY KEY,
    email          text NOT NULL UNIQUE,
    password_hash  text NOT NULL,
    role           text NOT NULL CHECK (role IN ('admin', 'organizer')),
    events         text[] NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sessions (
    token_hash     bytea PRIMARY KEY,
    organizer_id   uuid NOT NULL REFERENCES organizers (id) ON DELETE CASCADE,
    kind           text NOT NULL CHECK (kind IN ('api', 'console')),
    csrf_token     text,
    expires_at     timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE announcements (
    id             uuid PRIMARY KEY,
    event_slug     text NOT NULL REFERENCES events (slug),
    subject        jsonb NOT NULL,
    body           jsonb NOT NULL,
    created_by     uuid REFERENCES organizers (id),
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- A retried submit returns the first answer. Rows are purged after a day.
CREATE TABLE idempotency_keys (
    key            text PRIMARY KEY,
    request_hash   bytea NOT NULL,
    status         integer,
    response       jsonb,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE devices (
    id             uuid PRIMARY KEY,
    event_slug     text NOT NULL REFERENCES events (slug),
    role           text NOT NULL CHECK (role IN ('gate', 'booth', 'prize_desk')),
    place          text NOT NULL,
    label          text NOT NULL DEFAULT '',
    pairing_code_hash bytea NOT NULL UNIQUE,
    pairing_expires_at timestamptz NOT NULL,
    paired_at      timestamptz,
    token_expires_at timestamptz,
    revoked_at     timestamptz,
    device_token_id uuid,
    created_by     uuid REFERENCES organizers (id),
    created_at     timestamptz NOT NULL DEFAULT now()
);
