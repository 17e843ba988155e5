"""``python -m services.registration``: this service alone, as ``tomoni serve registration``."""

from shared.cli import serve_main

if __name__ == "__main__":
    serve_main("registration")
