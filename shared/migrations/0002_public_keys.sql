-- Every service's copy of the public keys that verify tickets, device tokens and
-- organizer tokens, fed by registration.keys.published (see shared/keys.py).
CREATE TABLE public_keys (
    kid         text PRIMARY KEY,
    public_key  text NOT NULL,
    as_of       timestamptz NOT NULL
);
CREATE TABLE public_keys_version (
    one         boolean PRIMARY KEY DEFAULT true CHECK (one),
    as_of       timestamptz NOT NULL
);
