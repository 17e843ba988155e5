"""Notify: notification jobs, templates, delivery attempts and preferences; email and SMS
in each registrant's language, exactly once."""
