"""A local SMTP sink for the notify benchmark, in its own process. It writes one line per
message (wall-clock time, To, Message-ID) to the file it is given.

Two kinds, both on uvloop:
- ``responder`` (default): a minimal SMTP responder that speaks what a sending client
  needs (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and answers each command as soon
  as its line arrives. On these 2 shared cores, every CPU millisecond the sink spends is
  taken from notify; a relay in a real deployment runs on its own machine.
- ``aiosmtpd``: the SMTP server library the tests use; its per-command work costs about
  a fifth of the throughput here (see bench/README.md).

``python -m bench.smtpsink PORT FILE [responder|aiosmtpd]``
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from typing import Any

_HEADER = re.compile(rb"^(To|Message-ID):[ \t]*(.*?)\r?$", re.I | re.M)


def record(out: Any, message: bytes) -> None:
    head = message.split(b"\r\n\r\n", 1)[0]
    found = {m.group(1).lower(): m.group(2).decode() for m in _HEADER.finditer(head)}
    out.write(f"{time.time():.6f}\t{found.get(b'to', '')}\t{found.get(b'message-id')}\n")


class Responder(asyncio.Protocol):
    def __init__(self, out: Any) -> None:
        self.out = out
        self.buffer = b""
        self.in_data = False
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(b"220 bench sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    return
                message, self.buffer = self.buffer[: end + 2], self.buffer[end + 5 :]
                self.in_data = False
                record(self.out, message)
                self.transport.write(b"250 2.0.0 OK\r\n")
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                return
            line, self.buffer = self.buffer[:end], self.buffer[end + 2 :]
            self.command(line.split(b" ", 1)[0].upper())

    def command(self, verb: bytes) -> None:
        if verb == b"EHLO":
            self.transport.write(b"250-bench sink\r\n250-8BITMIME\r\n250 SIZE 33554432\r\n")
        elif verb == b"DATA":
            self.in_data = True
            self.transport.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
        elif verb == b"QUIT":
            self.transport.write(b"221 Bye\r\n")
            self.transport.close()
        elif verb in (b"HELO", b"MAIL", b"RCPT", b"RSET", b"NOOP"):
            self.transport.write(b"250 OK\r\n")
        else:
            self.transport.write(b"502 Command not implemented\r\n")


class AiosmtpdSink:
    def __init__(self, out: Any) -> None:
        self.out = out

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        record(self.out, envelope.content)
        return "250 OK"


def main() -> None:
    import uvloop

    port, path = int(sys.argv[1]), sys.argv[2]
    kind = sys.argv[3] if len(sys.argv) > 3 else "responder"
    out = open(path, "a", buffering=1, encoding="utf-8")
    if kind == "aiosmtpd":
        from aiosmtpd.controller import Controller

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        Controller(AiosmtpdSink(out), hostname="127.0.0.1", port=port).start()
        while True:
            time.sleep(3600)

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: Responder(out), "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    uvloop.run(serve())


if __name__ == "__main__":
    main()
