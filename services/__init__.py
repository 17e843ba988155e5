"""Tomoni's four services. ``services.X`` never imports ``services.Y``."""
