-- Tickets, devices and gates as checkin knows them (fed by registration's events), every
-- scan, who is inside, and the counters the live board reads.

CREATE TABLE tickets (
    id              uuid PRIMARY KEY,
    event_slug      text NOT NULL,
    registration_id uuid,
    category        text,
    party_size      integer,            -- NULL until ticket.issued arrives
    display_name    text,
    language        text,
    revision        integer NOT NULL DEFAULT 0,
    revoked         boolean NOT NULL DEFAULT false,
    revoked_reason  text,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- The ticket number printed under the QR (last 12 hex digits of the ticket id), typed
-- by a volunteer when a code is too damaged to scan.
CREATE INDEX tickets_by_number ON tickets (event_slug, right(replace(id::text, '-', ''), 12));

CREATE TABLE devices (
    id          uuid PRIMARY KEY,
    event_slug  text NOT NULL,
    role        text NOT NULL,
    place       text NOT NULL,
    label       text NOT NULL DEFAULT '',
    expires_at  timestamptz,
    revoked     boolean NOT NULL DEFAULT false,
    last_seen_at timestamptz
);

-- Who is in: one row per admitted ticket. The row is the lock two gates contend for.
CREATE TABLE presence (
    ticket_id       uuid PRIMARY KEY,
    event_slug      text NOT NULL,
    inside          boolean NOT NULL,
    people          integer NOT NULL,   -- counted at admission
    entries         integer NOT NULL DEFAULT 0,
    first_gate      text NOT NULL,
    first_device    uuid NOT NULL,
    first_at        timestamptz NOT NULL,
    last_gate       text NOT NULL,
    last_at         timestamptz NOT NULL
);

-- Every scan, rejected ones too. (device_id, client_scan_id) makes retries idempotent.
CREATE TABLE scans (
    device_id       uuid NOT NULL,
    client_scan_id  text NOT NULL,
    event_slug      text NOT NULL,
    gate            text NOT NULL,
    ticket_id       uuid,
    direction       text NOT NULL CHECK (direction IN ('in', 'out')),
    result          text,
    reason          text,
    scanned_at      timestamptz NOT NULL,   -- the device's clock
    received_at     timestamptz NOT NULL DEFAULT now(),
    offline_duplicate boolean NOT NULL DEFAULT false,
    response        jsonb,
    PRIMARY KEY (device_id, client_scan_id)
);
CREATE INDEX scans_recent ON scans (event_slug, received_at);
CREATE INDEX scans_duplicates ON scans (event_slug) WHERE offline_duplicate;

-- Counters kept with each scan, so a live snapshot never scans the tables above. One row
-- per device, not per gate: the devices of a gate never wait for each other's counter
-- row (a snapshot adds up a few dozen rows).
CREATE TABLE gate_counts (
    event_slug       text NOT NULL,
    gate             text NOT NULL,
    device_id        uuid NOT NULL,
    admitted_parties integer NOT NULL DEFAULT 0,
    admitted_people  integer NOT NULL DEFAULT 0,
    inside_people    integer NOT NULL DEFAULT 0,
    PRIMARY KEY (event_slug, gate, device_id)
);
