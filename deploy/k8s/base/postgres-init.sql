-- One role per service, each owning only its own schema (services create their tables
-- there with their migrations). A service's credentials cannot read another's data.
-- Passwords come from the compose file's secrets in a real installation; these are the
-- example defaults; change them (ALTER ROLE … PASSWORD) before a real event. Used by
-- deploy/compose/compose.yaml and by the CloudNativePG cluster (deploy/k8s/base).
CREATE ROLE registration LOGIN PASSWORD 'registration';
CREATE ROLE checkin LOGIN PASSWORD 'checkin';
CREATE ROLE stamprally LOGIN PASSWORD 'stamprally';
CREATE ROLE notify LOGIN PASSWORD 'notify';

REVOKE ALL ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON DATABASE tomoni FROM PUBLIC;

CREATE SCHEMA registration AUTHORIZATION registration;
CREATE SCHEMA checkin AUTHORIZATION checkin;
CREATE SCHEMA stamprally AUTHORIZATION stamprally;
CREATE SCHEMA notify AUTHORIZATION notify;

GRANT CONNECT ON DATABASE tomoni TO registration, checkin, stamprally, notify;
