"""Check-in: gates, a read model of admissible tickets, scans and presence; the volunteer
scanner app (entrance mode)."""
