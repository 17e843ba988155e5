"""What stamprally publishes (stream ``<NS>_STAMPRALLY``).

Its contracts are declared with the capability that publishes them; the module exists so
that every publishing service has its one place for them.
"""
