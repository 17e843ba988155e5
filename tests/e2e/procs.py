"""Running ``tomoni`` as a real process, the way people and deployments do."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from shared.embedded import free_port
from shared.testing import wait_until

TOMONI = str(Path(sys.executable).parent / "tomoni")


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TOMONI_")}
    full_env.update({"TOMONI_LOG_FORMAT": "json", "TOMONI_HTTP_HOST": "127.0.0.1", **env})
    with log.open("ab") as out:
        return subprocess.Popen(
            [TOMONI, *args],
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


async def ready(port: int, path: str = "/readyz", timeout: float = 60.0) -> dict[str, object]:
    async with aiohttp.ClientSession() as http:

        async def check() -> dict[str, object] | None:
            try:
                async with http.get(f"http://127.0.0.1:{port}{path}") as r:
                    return await r.json() if r.status == 200 else None
            except aiohttp.ClientError:
                return None

        result: dict[str, object] = await wait_until(
            check, timeout=timeout, interval=0.1, message=f"{path} on {port}"
        )
        return result


def stop(proc: subprocess.Popen[bytes], sig: int, timeout: float = 30.0) -> int:
    proc.send_signal(sig)
    return proc.wait(timeout)


def wait_gone(pids: list[int], timeout: float = 15.0) -> list[int]:
    """The pids still alive (zombies count as gone) after waiting up to ``timeout``."""
    import psutil

    deadline = time.monotonic() + timeout
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = []
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
            except psutil.NoSuchProcess:
                pass
        time.sleep(0.1)
    return alive


__all__ = ["TOMONI", "free_port", "ready", "spawn", "stop", "wait_gone"]
