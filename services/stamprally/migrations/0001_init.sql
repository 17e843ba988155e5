-- Stamprally's own read model of civic events (a rally belongs to one), fed by
-- registration.event.published. Rallies, booths, stamps and prizes come with the
-- stamp-rally capability.
CREATE TABLE events (
    slug        text PRIMARY KEY,
    title       jsonb NOT NULL,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    timezone    text NOT NULL,
    revision    integer NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
