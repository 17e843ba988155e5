"""A real SMTP server (aiosmtpd) and a local HTTP SMS gateway for the notify tests."""

from __future__ import annotations

import email
import email.policy
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller

from shared.embedded import free_port


@dataclass
class Mailbox:
    """What the SMTP server accepted, in order; addresses in ``refuse`` get a 550."""

    messages: list[EmailMessage] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        with self.lock:
            self.messages.append(msg)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]

    def snapshot(self) -> list[EmailMessage]:
        with self.lock:
            return list(self.messages)


class SmtpServer:
    """aiosmtpd in its own thread, on a fixed port so it can be stopped and restarted."""

    def __init__(self, box: Mailbox) -> None:
        self.box = box
        self.port = free_port()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._controller = Controller(self.box, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@dataclass
class SmsGateway:
    """The SMS provider's HTTP API: records ``{to, text}``; answers ``status``."""

    received: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    reject: set[str] = field(default_factory=set)
    port: int = field(default_factory=free_port)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/send"

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("to") in self.reject:
            return web.json_response({"error": "invalid number"}, status=400)
        if self.status != 200:
            return web.json_response({"error": "unavailable"}, status=self.status)
        self.received.append(body)
        return web.json_response({"id": len(self.received)})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/send", self._send)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def image_parts(msg: EmailMessage) -> list[EmailMessage]:
    return [p for p in msg.walk() if p.get_content_type() == "image/png"]  # type: ignore[misc]


def decode_qr(png: bytes) -> str:
    """Read a QR code the way a phone would: zxing-cpp on the PNG's pixels."""
    import io

    import zxingcpp
    from PIL import Image

    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(results) == 1, f"expected one QR code, found {len(results)}"
    return str(results[0].text)
