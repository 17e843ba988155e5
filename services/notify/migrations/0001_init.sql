-- Notify's own read model of civic events: what a message says about the event (title,
-- venue, time) and how long personal data may be kept (retention), fed by
-- registration.event.published.
CREATE TABLE events (
    slug            text PRIMARY KEY,
    title           jsonb NOT NULL,
    venue           jsonb NOT NULL,
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL,
    timezone        text NOT NULL,
    retention_days  integer NOT NULL,
    revision        integer NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
