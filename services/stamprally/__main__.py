"""``python -m services.stamprally``: this service alone, as ``tomoni serve stamprally``."""

from shared.cli import serve_main

if __name__ == "__main__":
    serve_main("stamprally")
