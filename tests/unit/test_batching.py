"""The coalescer (shared/batching.py), with fake batch functions: pure scheduling logic.
Its use against PostgreSQL is tested with check-in's and the stamp rally's scans."""

from __future__ import annotations

import asyncio

import pytest

from shared.batching import Coalescer


class Recorder:
    """``many`` and ``one`` that double their items and record how they were called."""

    def __init__(self, fail_many: bool = False, wrong_count: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.singles: list[int] = []
        self.fail_many, self.wrong_count = fail_many, wrong_count
        self.release = asyncio.Event()
        self.release.set()

    async def many(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        await self.release.wait()
        if self.fail_many:
            raise RuntimeError("the batch as a whole failed")
        answers = [i * 2 for i in items]
        return answers[:-1] if self.wrong_count else answers

    async def one(self, item: int) -> int:
        self.singles.append(item)
        await asyncio.sleep(0)
        if item < 0:
            raise ValueError(f"bad item {item}")
        return item * 2


async def test_a_lone_call_goes_at_once_on_the_single_path() -> None:
    r = Recorder()
    c = Coalescer(r.many, r.one)
    assert await c.submit(5) == 10
    assert (r.batches, r.singles) == ([], [5])


async def test_calls_arriving_together_go_as_one_batch_in_order() -> None:
    r = Recorder()
    c = Coalescer(r.many, r.one)
    answers = await asyncio.gather(*(c.submit(i) for i in range(10)))
    assert answers == [i * 2 for i in range(10)]
    assert r.batches == [list(range(10))] and r.singles == []
    assert (c.batches, c.items, c.fallbacks) == (1, 10, 0)


async def test_calls_arriving_while_a_batch_is_in_the_database_form_the_next_one() -> None:
    r = Recorder()
    c = Coalescer(r.many, r.one)
    r.release.clear()
    first = [asyncio.create_task(c.submit(i)) for i in range(3)]
    await asyncio.sleep(0.01)  # the first batch is now waiting in "the database"
    later = [asyncio.create_task(c.submit(i)) for i in range(10, 14)]
    await asyncio.sleep(0.01)
    assert r.batches == [[0, 1, 2]]  # one batch in flight at a time
    r.release.set()
    assert await asyncio.gather(*first, *later) == [0, 2, 4, 20, 22, 24, 26]
    assert r.batches == [[0, 1, 2], [10, 11, 12, 13]]


async def test_a_batch_never_exceeds_max_batch() -> None:
    r = Recorder()
    c = Coalescer(r.many, r.one, max_batch=4)
    assert await asyncio.gather(*(c.submit(i) for i in range(10))) == [i * 2 for i in range(10)]
    assert r.batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]] and r.singles == []


@pytest.mark.parametrize("how", ["raises", "wrong_count"])
async def test_a_failed_batch_is_run_again_item_by_item_errors_stay_with_their_item(
    how: str,
) -> None:
    r = Recorder(fail_many=how == "raises", wrong_count=how == "wrong_count")
    c = Coalescer(r.many, r.one)
    answers = await asyncio.gather(*(c.submit(i) for i in [1, -2, 3]), return_exceptions=True)
    assert answers[0] == 2 and answers[2] == 6
    assert isinstance(answers[1], ValueError) and "bad item -2" in str(answers[1])
    assert r.batches == [[1, -2, 3]] and sorted(r.singles) == [-2, 1, 3]
    assert c.fallbacks == 1


async def test_a_caller_that_goes_away_does_not_cancel_the_batch_for_the_others() -> None:
    r = Recorder()
    c = Coalescer(r.many, r.one)
    r.release.clear()
    tasks = [asyncio.create_task(c.submit(i)) for i in range(4)]
    await asyncio.sleep(0.01)
    tasks[1].cancel()
    r.release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[1], asyncio.CancelledError)
    assert [results[0], results[2], results[3]] == [0, 4, 6]
    assert r.batches == [[0, 1, 2, 3]]  # the cancelled caller's item was still decided


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError):
        Coalescer(Recorder().many, Recorder().one, max_batch=0)
