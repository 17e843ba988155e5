-- The stamp rally: one rally per event, its booths and prizes; stamprally's own read model
-- of tickets, devices and entrance check-ins (fed by registration's and checkin's facts);
-- every stamp, card and redemption; and the counters the live board reads.

CREATE TABLE rallies (
    event             text PRIMARY KEY,
    title             jsonb NOT NULL,
    min_stamps        integer NOT NULL CHECK (min_stamps >= 0),
    required_booths   text[] NOT NULL DEFAULT '{}',
    requires_checkin  boolean NOT NULL DEFAULT false,
    opens_at          timestamptz,
    closes_at         timestamptz,
    revision          integer NOT NULL DEFAULT 1,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- A booth taken out of a rally by a later version stays (inactive) with its stamps.
CREATE TABLE booths (
    event     text NOT NULL,
    code      text NOT NULL,
    name      jsonb NOT NULL,
    kind      text NOT NULL,
    position  integer NOT NULL,
    active    boolean NOT NULL DEFAULT true,
    PRIMARY KEY (event, code)
);

-- Prizes in the order they are handed out; `given` never exceeds `stock`.
CREATE TABLE prizes (
    event     text NOT NULL,
    code      text NOT NULL,
    name      jsonb NOT NULL,
    stock     integer NOT NULL CHECK (stock >= 0),
    given     integer NOT NULL DEFAULT 0 CHECK (given >= 0 AND given <= stock),
    position  integer NOT NULL,
    active    boolean NOT NULL DEFAULT true,
    PRIMARY KEY (event, code)
);

CREATE TABLE tickets (
    id               uuid PRIMARY KEY,
    event            text NOT NULL,
    registration_id  uuid,
    category         text,
    language         text,
    display_name     text,
    card_key         bytea,              -- SHA-256 of the registration's secret
    revision         integer NOT NULL DEFAULT 0,
    revoked          boolean NOT NULL DEFAULT false
);

CREATE TABLE devices (
    id          uuid PRIMARY KEY,
    event       text NOT NULL,
    role        text NOT NULL,
    place       text NOT NULL,
    label       text NOT NULL DEFAULT '',
    expires_at  timestamptz,
    revoked     boolean NOT NULL DEFAULT false
);

-- Tickets admitted at an entrance (checkin.admitted), for rallies that require it.
CREATE TABLE checked_in (
    ticket_id  uuid PRIMARY KEY,
    event      text NOT NULL,
    at         timestamptz NOT NULL
);

-- One row per ticket that has a stamp: the row two booths' stamps take turns on, so the
-- count and the completion are decided once.
CREATE TABLE cards (
    ticket_id       uuid PRIMARY KEY,
    event           text NOT NULL,
    stamps          integer NOT NULL DEFAULT 0,
    completed_at    timestamptz,
    redeemed_at     timestamptz,
    prize           text,
    redeemed_by     uuid
);
CREATE INDEX cards_completed ON cards (event, completed_at) WHERE completed_at IS NOT NULL;

-- One stamp per (ticket, booth): the guarantee, whatever the retries and devices.
CREATE TABLE stamps (
    ticket_id  uuid NOT NULL,
    booth      text NOT NULL,
    event      text NOT NULL,
    device_id  uuid,                     -- NULL: the attendee scanned the booth's code
    at         timestamptz NOT NULL,
    PRIMARY KEY (ticket_id, booth)
);
CREATE INDEX stamps_by_device ON stamps (event, device_id, at);
CREATE INDEX stamps_by_event ON stamps (event, at);

-- The first answer to each (device, client_scan_id): a retry gets it again.
CREATE TABLE scan_answers (
    device_id       uuid NOT NULL,
    client_scan_id  text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('stamp', 'redeem')),
    ticket_id       uuid,
    result          text,
    reason          text,
    response        jsonb,
    at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, client_scan_id)
);

-- Counters kept with each write, for snapshots that never scan the tables above.
CREATE TABLE booth_counts (
    event   text NOT NULL,
    booth   text NOT NULL,
    stamps  integer NOT NULL DEFAULT 0,
    PRIMARY KEY (event, booth)
);
CREATE TABLE rally_counts (
    event      text PRIMARY KEY,
    completed  integer NOT NULL DEFAULT 0,
    redeemed   integer NOT NULL DEFAULT 0
);

-- Stamprally's own secret (signs the booths' rotating codes), shared by its replicas.
CREATE TABLE secrets (
    name   text PRIMARY KEY,
    value  bytea NOT NULL
);
