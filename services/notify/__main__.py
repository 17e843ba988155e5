"""``python -m services.notify``: this service alone, as ``tomoni serve notify``."""

from shared.cli import serve_main

if __name__ == "__main__":
    serve_main("notify")
