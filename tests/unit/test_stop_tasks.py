"""A service stops on SIGTERM even when a library swallowed the cancellation of one of
its background tasks (the cluster test once caught a checkin replica that never exited)."""

from __future__ import annotations

import asyncio

from shared.runtime import stop_tasks


async def _swallows_one_cancel(stopped: list[bool]) -> None:
    """What a fetch loop does when ``wait_for`` swallows the cancel: goes round again."""
    swallowed = False
    while True:
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            if swallowed:
                stopped.append(True)
                raise
            swallowed = True
            asyncio.current_task().uncancel()  # type: ignore[union-attr]


async def test_one_cancel_is_not_enough_for_a_task_that_swallows_it() -> None:
    """The control: a single cancel, as the shutdown used to send, leaves it running."""
    stopped: list[bool] = []
    task = asyncio.create_task(_swallows_one_cancel(stopped))
    await asyncio.sleep(0.01)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=1.0)
    assert not done and not stopped
    task.cancel()
    await asyncio.wait({task}, timeout=1.0)
    assert stopped


async def test_stop_tasks_cancels_again_until_everything_stopped() -> None:
    stopped: list[bool] = []
    tasks = [
        asyncio.create_task(_swallows_one_cancel(stopped), name="stubborn"),
        asyncio.create_task(asyncio.sleep(60), name="plain"),
        asyncio.create_task(asyncio.sleep(0), name="finished"),
    ]
    await asyncio.sleep(0.01)
    assert await stop_tasks(tasks, timeout=5.0) == []
    assert stopped and all(t.done() for t in tasks)


async def test_stop_tasks_gives_up_and_names_what_would_not_stop() -> None:
    release = asyncio.Event()

    async def stubborn_until_released() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                asyncio.current_task().uncancel()  # type: ignore[union-attr]

    task = asyncio.create_task(stubborn_until_released(), name="stubborn")
    await asyncio.sleep(0.01)
    assert await stop_tasks([task], timeout=0.6) == ["stubborn"]
    release.set()
    await task
