"""Registration: events, categories, registrations, waiting lists, tickets, organizers and
volunteer devices; the attendee pages and the organizer console."""
