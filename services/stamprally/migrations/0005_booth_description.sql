-- A booth's description (what visitors find there), in the languages the organizer wrote
-- it in; shown on the stamp card under the booth's name.
ALTER TABLE booths ADD COLUMN description jsonb NOT NULL DEFAULT '{}';
