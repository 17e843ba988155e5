-- Erasure of personal data (Japan's APPI): one person on request, or a whole event when
-- its retention ends. An erased registration keeps what the counts need (event, category,
-- status, party size, language, the answers to choice and checkbox fields) and loses the
-- rest: name, reading, email, phone, free-text answers, and its secret (the link dies).
ALTER TABLE registrations ADD COLUMN erased_at timestamptz;
ALTER TABLE events ADD COLUMN personal_data_erased_at timestamptz;
