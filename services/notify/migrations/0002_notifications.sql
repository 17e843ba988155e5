-- Notify's own data: who to tell (recipients, the only personal data it keeps), what to
-- tell them (notifications: one row per message, claimed by a unique key in the same
-- transaction as the bus message that caused it), and per-event choices.

-- One row per registration, built from registration's facts. Facts of one registration
-- arrive on different durable consumers, so they may arrive out of order: status and
-- contact are only replaced by a newer fact (status_at / contact_at).
CREATE TABLE recipients (
    registration_id  uuid PRIMARY KEY,
    event            text NOT NULL,
    category         text NOT NULL,
    status           text NOT NULL,
    status_at        timestamptz NOT NULL,
    name             text NOT NULL,
    email            text,
    phone            text,
    language         text NOT NULL,
    notify_by        text NOT NULL,
    contact_at       timestamptz NOT NULL,
    manage_url       text,
    ticket_id        uuid,
    qr_text          text,
    unsubscribed_at  timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recipients_event ON recipients (event, status);

-- One row per message on one channel. `dedupe_key` is the guarantee: (source event,
-- recipient, template, channel) can be claimed once, whatever the redeliveries and
-- replays. `context` holds what the template needs beyond the recipient and the event
-- (the ticket, a waiting-list place, an announcement's text); the message is rendered
-- when it is sent, so it always carries the event's current venue and time.
CREATE TABLE notifications (
    id               uuid PRIMARY KEY,
    dedupe_key       text NOT NULL UNIQUE,
    registration_id  uuid NOT NULL,
    event            text NOT NULL,
    channel          text NOT NULL CHECK (channel IN ('email', 'sms')),
    template         text NOT NULL,
    language         text NOT NULL,
    recipient        text NOT NULL,
    context          jsonb NOT NULL DEFAULT '{}',
    announcement_id  uuid,
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'sent', 'failed', 'dead', 'skipped')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    message_id       text NOT NULL,
    detail           jsonb,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    sent_at          timestamptz
);
-- The dispatcher's queue: due messages of a channel, oldest first.
CREATE INDEX notifications_due ON notifications (channel, created_at, id)
    WHERE status IN ('queued', 'failed');
CREATE INDEX notifications_registration ON notifications (registration_id, created_at);
CREATE INDEX notifications_event ON notifications (event, template);
CREATE INDEX notifications_announcement ON notifications (announcement_id)
    WHERE announcement_id IS NOT NULL;

-- What an organizer chose for an event: the reminder's local time on the day before
-- (NULL: no reminder), and whether a completed stamp card gets a message. The reminder
-- of an event is created once for each start time (`reminded_for`).
CREATE TABLE event_settings (
    event             text PRIMARY KEY,
    reminder_time     time DEFAULT '10:00',
    rally_completed   boolean NOT NULL DEFAULT false,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE events ADD COLUMN reminded_for timestamptz;

-- Announcements as the organizer sent them (for the sent/total view).
CREATE TABLE announcements (
    id          uuid PRIMARY KEY,
    event       text NOT NULL,
    subject     jsonb NOT NULL,
    body        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Notify's own secret (signs unsubscribe links), shared by its replicas.
CREATE TABLE secrets (
    name   text PRIMARY KEY,
    value  bytea NOT NULL
);
