-- Civic events and what people register for. Registrations, tickets, organizers and
-- devices come in their own migrations.

CREATE TABLE events (
    slug                   text PRIMARY KEY CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    kind                   text NOT NULL CHECK (kind IN
                               ('speech_contest', 'fair', 'festa', 'volunteer_fair', 'seminar')),
    title                  jsonb NOT NULL,
    description            jsonb NOT NULL DEFAULT '{}',
    venue                  jsonb NOT NULL,
    venue_map_url          text,
    starts_at              timestamptz NOT NULL,
    ends_at                timestamptz NOT NULL,
    timezone               text NOT NULL DEFAULT 'Asia/Tokyo',
    registration_opens_at  timestamptz,
    registration_closes_at timestamptz,
    retention_days         integer NOT NULL DEFAULT 90 CHECK (retention_days BETWEEN 1 AND 3650),
    public                 boolean NOT NULL DEFAULT true,
    revision               integer NOT NULL DEFAULT 1,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);

CREATE TABLE categories (
    event_slug      text NOT NULL REFERENCES events (slug) ON DELETE CASCADE,
    code            text NOT NULL CHECK (code ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
    position        integer NOT NULL,
    title           jsonb NOT NULL,
    description     jsonb NOT NULL DEFAULT '{}',
    capacity        integer NOT NULL CHECK (capacity >= 0),
    max_party_size  integer NOT NULL DEFAULT 1 CHECK (max_party_size BETWEEN 1 AND 20),
    review          boolean NOT NULL DEFAULT false,
    reentry         boolean NOT NULL DEFAULT false,
    fields          jsonb NOT NULL DEFAULT '[]',
    opens_at        timestamptz,
    closes_at       timestamptz,
    PRIMARY KEY (event_slug, code)
);
