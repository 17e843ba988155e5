"""Stamp rally: rallies, booths, rules, stamps, prizes and redemptions; the booth scanner
mode, the stamp card page and the prize desk."""
