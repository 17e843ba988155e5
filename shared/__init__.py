"""Tomoni's own library: what every service shares (settings, database, bus, HTTP edge)."""
