"""``python -m services.checkin``: this service alone, as ``tomoni serve checkin``."""

from shared.cli import serve_main

if __name__ == "__main__":
    serve_main("checkin")
