-- Checkin's own read model of the civic events it admits people to, fed by
-- registration.event.published. The gates keep working while registration is down.
CREATE TABLE events (
    slug        text PRIMARY KEY,
    title       jsonb NOT NULL,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    timezone    text NOT NULL,
    revision    integer NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Which categories allow re-entry after an exit (a rule checkin applies at the gate).
CREATE TABLE categories (
    event_slug  text NOT NULL REFERENCES events (slug) ON DELETE CASCADE,
    code        text NOT NULL,
    title       jsonb NOT NULL,
    reentry     boolean NOT NULL,
    PRIMARY KEY (event_slug, code)
);
