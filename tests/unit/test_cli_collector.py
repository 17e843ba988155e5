"""`tomoni serve` and `tomoni up` settle the garbage collector once started
(shared/cli.py, ``_settle_collector``)."""

from __future__ import annotations


def test_a_started_server_freezes_what_is_alive_out_of_the_collectors_reach() -> None:
    import gc

    from shared.cli import _settle_collector

    gc.unfreeze()
    try:
        _settle_collector()
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
