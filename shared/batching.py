"""Concurrent calls coalesced into one database round trip: group commit at the edge.

A hot path whose requests each cost one round trip and one commit (a gate's scan, a
booth's stamp) spends much of its CPU, in this process and in PostgreSQL, on what every
round trip and every transaction costs rather than on its own rows. A :class:`Coalescer`
sends the calls that arrive while a batch is in the database together, as the next batch,
in one call of a set-wise function that runs each item through the same single-item
logic in one transaction. There is no timer: a lone call goes at once, and batches grow
only when calls queue up behind a busy database, so latency is never traded for them.

If a batch fails as a whole (a lock wait cut short by the batch's ``lock_timeout``, a
deadlock with another replica's batch, one item the database refuses), nothing of it was
committed and each of its items is run again on its own through the single path, so one
item's error is that item's alone and a retry never does anything twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import asyncpg

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class Coalescer(Generic[T, R]):
    """``await submit(item)`` returns ``one(item)``'s answer, computed by ``many(items)``
    (answers in the items' order) when other calls are waiting too.

    ``in_flight`` batches may be in the database at once; ``max_batch`` bounds a batch."""

    def __init__(
        self,
        many: Callable[[list[T]], Awaitable[Sequence[R]]],
        one: Callable[[T], Awaitable[R]],
        *,
        max_batch: int = 64,
        in_flight: int = 1,
        name: str = "batch",
    ) -> None:
        if max_batch < 1 or in_flight < 1:
            raise ValueError("max_batch and in_flight must be at least 1")
        self._many, self._one = many, one
        self._max_batch, self._in_flight, self._name = max_batch, in_flight, name
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()
        # What happened, for tests and the curious: batches sent, items in them, and
        # batches that failed and were run again item by item.
        self.batches = 0
        self.items = 0
        self.fallbacks = 0

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._queue.append((item, future))
        if self._running < self._in_flight:
            self._running += 1
            # Started on the next turn of the loop, so that calls arriving in this one
            # join the same batch.
            task = loop.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # A caller that goes away (a client hanging up) does not take the batch with it.
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                await self._run(batch)
        finally:
            self._running -= 1

    async def _run(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        if len(batch) == 1:
            await self._run_one(*batch[0])
            return
        items = [item for item, _ in batch]
        try:
            answers = await self._many(items)
            if len(answers) != len(items):
                raise RuntimeError(f"{self._name}: {len(answers)} answers to {len(items)} items")
        except asyncio.CancelledError:
            for _, future in batch:
                if not future.done():
                    future.cancel()
            raise
        except Exception as exc:  # each item is then answered on its own
            self.fallbacks += 1
            logger.info(
                "batch failed; its items run one by one",
                extra={"batch": self._name, "size": len(items), "error": type(exc).__name__},
            )
            await asyncio.gather(*(self._run_one(item, future) for item, future in batch))
            return
        self.batches += 1
        self.items += len(items)
        for (_, future), answer in zip(batch, answers, strict=True):
            if not future.done():
                future.set_result(answer)

    async def _run_one(self, item: T, future: asyncio.Future[R]) -> None:
        try:
            answer = await self._one(item)
        except asyncio.CancelledError:
            if not future.done():
                future.cancel()
            raise
        except Exception as exc:  # handed to the caller
            if not future.done():
                future.set_exception(exc)
        else:
            if not future.done():
                future.set_result(answer)


def function_coalescer(
    pool: Callable[[], asyncpg.Pool],
    one_sql: str,
    many_sql: str,
    *,
    scalars: frozenset[int] = frozenset(),
    one_extra: tuple[Any, ...] = (),
    name: str,
) -> Coalescer[tuple[Any, ...], Any]:
    """A coalescer for a PostgreSQL function called with one row of arguments
    (``one_sql``, given the row then ``one_extra``) that has a set-wise twin taking each
    argument as an array, in the same order (``many_sql``), but those at ``scalars``
    positions: one value for the whole batch, which must then be the same in every row."""

    async def one(args: tuple[Any, ...]) -> Any:
        return await pool().fetchval(one_sql, *args, *one_extra)

    async def many(batch: list[tuple[Any, ...]]) -> list[Any]:
        params: list[Any] = []
        for i, column in enumerate(zip(*batch, strict=True)):
            if i in scalars:
                if any(v != column[0] for v in column):
                    raise ValueError(f"{name}: argument {i} differs within a batch")
                params.append(column[0])
            else:
                params.append(list(column))
        answers: list[Any] = await pool().fetchval(many_sql, *params)
        return answers

    return Coalescer(many, one, name=name)
