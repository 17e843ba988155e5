-- The daily SMS cap per number (dispatch.prepare) counts a number's recent SMS.
CREATE INDEX notifications_sms_recipient ON notifications (recipient, sent_at)
    WHERE channel = 'sms';
