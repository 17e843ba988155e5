-- The bus tables every service keeps in its own schema (applied before its own migrations).

-- Transactional outbox, and the service's ledger of what it published.
CREATE TABLE outbox (
    seq          bigserial PRIMARY KEY,
    id           uuid NOT NULL UNIQUE,
    subject      text NOT NULL,
    event_type   text NOT NULL,
    event_slug   text,
    body         bytea NOT NULL,
    correlation_id text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz
);
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;
CREATE INDEX outbox_created ON outbox (created_at);

-- Idempotent consumers: an event id is claimed in the same transaction as its effect.
CREATE TABLE inbox (
    consumer     text NOT NULL,
    event_id     uuid NOT NULL,
    claimed_by   text NOT NULL,          -- host:pid of the replica that processed it
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX inbox_processed ON inbox (processed_at);

-- Messages a consumer gave up on, for operators to see (and replay by hand).
CREATE TABLE dead_letters (
    id           bigserial PRIMARY KEY,
    consumer     text NOT NULL,
    subject      text NOT NULL,
    stream_seq   bigint,
    deliveries   integer NOT NULL,
    reason       text NOT NULL,
    body         bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
