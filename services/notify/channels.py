"""Channels: how a rendered message leaves Tomoni. Each adapter turns one
:class:`Outgoing` into a delivery or one of three failures, and the dispatcher does the
rest (order, retries, rate, status). A new channel (LINE Messaging API, web push) is one
more class with the same two methods, registered in :func:`channels_for_settings`.

- :class:`ChannelDown`: the provider cannot take anything now (connection refused, SMTP
  4xx, gateway 5xx, timeout). The message waits, in its place in the queue.
- :class:`Refused`: the provider refused this recipient (SMTP 5xx for the address). Tried
  again a few times, then dead.
- :class:`Rejected`: the provider says this message can never go (SMS gateway 4xx). Dead.
"""

from __future__ import annotations

import io
import logging
import uuid
from dataclasses import dataclass, field
from email.header import Header
from email.message import Message
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, parseaddr
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
import aiosmtplib
import png
import zxingcpp

from services.notify.render import QR_CID
from shared.config import TomoniSettings

logger = logging.getLogger("tomoni.notify")


class ChannelDown(Exception):
    pass


class Refused(Exception):
    pass


class Rejected(Exception):
    pass


@dataclass(frozen=True)
class Outgoing:
    to: str
    subject: str
    text: str
    html: str
    sms: str
    language: str
    message_id: str
    qr_text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class Channel(Protocol):
    name: str

    def encode(self, message: Outgoing) -> Any:
        """The message as :meth:`send` takes it (CPU only, no I/O: the dispatcher does
        it for the next message while the current one is on the wire)."""
        ...

    async def send(self, encoded: Any) -> dict[str, Any] | None:
        """Deliver or raise ChannelDown / Refused / Rejected; may return details to keep."""
        ...

    async def close(self) -> None: ...


# -- the QR image -------------------------------------------------------------------------
def qr_png(text: str, module_px: int = 8) -> bytes:
    """The ticket QR as a 1-bit PNG, error correction M with a 4-module quiet zone.

    Encoded by zxing-cpp (C++, 0.2 ms a code; the pure-Python ``qrcode`` the pages use
    takes about 5 ms, a third of notify's time per ticket email when a backlog drains).
    zxing-cpp gives one byte per module (0x00 dark, 0xFF light); at 8 pixels a module
    and 1 bit a pixel, that byte is exactly the packed PNG bits of one module."""
    barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = zxingcpp.write_barcode_to_image(barcode, scale=1, add_quiet_zones=True)
    height, width = image.shape
    pixels = memoryview(image).tobytes()  # type: ignore[arg-type]  # a buffer, untyped
    assert module_px % 8 == 0, "each module is a whole number of bytes"
    per = module_px // 8
    rows = []
    for r in range(height):
        line = pixels[r * width : (r + 1) * width]
        row = line if per == 1 else bytes(b for b in line for _ in range(per))
        rows.extend([row] * module_px)
    out = io.BytesIO()
    png.Writer(
        width * module_px, height * module_px, greyscale=True, bitdepth=1, compression=1
    ).write_packed(out, rows)
    return out.getvalue()


# -- email ------------------------------------------------------------------------------
def build_email(message: Outgoing, sender: str) -> bytes:
    """The message as sent: plain text first, then HTML whose QR image is inline (cid),
    and the QR again as an attachment (for mail apps that hide inline images).

    Built with the ``email.mime`` classes (the compat32 policy) and flattened once: the
    newer ``EmailMessage`` API costs three times as much per message, which is most of
    notify's time when a backlog drains."""
    root = MIMEMultipart("mixed") if message.qr_text else MIMEMultipart("alternative")
    name, address = parseaddr(sender)
    root["From"] = formataddr((name, address), charset="utf-8")
    root["To"] = message.to
    root["Subject"] = Header(message.subject, "utf-8")  # type: ignore[assignment]
    root["Date"] = formatdate(usegmt=True)
    root["Message-ID"] = message.message_id
    root["Content-Language"] = message.language
    root["Auto-Submitted"] = "auto-generated"
    for header, value in message.headers.items():
        root[header] = value
    text = MIMEText(message.text, "plain", "utf-8")
    html = MIMEText(message.html, "html", "utf-8")
    parts: list[Message]
    if not message.qr_text:
        parts = [text, html]
        root.attach(text)
        root.attach(html)
    else:
        image = qr_png(message.qr_text)
        inline = MIMEImage(image, "png")
        inline["Content-ID"] = f"<{QR_CID}>"
        inline.add_header("Content-Disposition", "inline")
        related = MIMEMultipart("related")
        related.attach(html)
        related.attach(inline)
        alternative = MIMEMultipart("alternative")
        alternative.attach(text)
        alternative.attach(related)
        attachment = MIMEImage(image, "png")
        attachment.add_header("Content-Disposition", "attachment", filename="ticket-qr.png")
        root.attach(alternative)
        root.attach(attachment)
        parts = [text, html, inline, related, alternative, attachment]
    # MIME-Version belongs on the message only; and boundaries given up front spare the
    # generator its search of every part for a collision (no "_" in base64 or our text's
    # encodings, so "=_" + random hex cannot occur in a part).
    for part in parts:
        del part["MIME-Version"]
    for multipart in (root, *(p for p in parts if p.is_multipart())):
        multipart.set_boundary(f"=_{uuid.uuid4().hex}")
    return root.as_bytes()


class EmailChannel:
    """SMTP through one kept-open connection (``smtp://`` or ``smtps://``; STARTTLS when
    the server offers it); reconnects after any failure."""

    name = "email"

    def __init__(self, url: str, sender: str, timeout: float) -> None:
        parts = urlsplit(url)
        self.envelope_from = parseaddr(sender)[1]
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (465 if parts.scheme == "smtps" else 25)
        self.tls = parts.scheme == "smtps"
        self.username = parts.username
        self.password = parts.password
        self.sender = sender
        self.timeout = timeout
        self._smtp: aiosmtplib.SMTP | None = None

    async def _client(self) -> aiosmtplib.SMTP:
        if self._smtp is not None and self._smtp.is_connected:
            return self._smtp
        smtp = aiosmtplib.SMTP(
            hostname=self.host, port=self.port, use_tls=self.tls, timeout=self.timeout
        )
        await smtp.connect()
        if self.username and self.password:
            await smtp.login(self.username, self.password)
        self._smtp = smtp
        return smtp

    def encode(self, message: Outgoing) -> tuple[str, bytes]:
        return message.to, build_email(message, self.sender)

    async def send(self, encoded: tuple[str, bytes]) -> dict[str, Any] | None:
        to, mail = encoded
        try:
            smtp = await self._client()
            _errors, response = await smtp.sendmail(self.envelope_from, [to], mail)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            await self._reset()
            codes = [r.code for r in exc.recipients]
            if codes and all(code >= 500 for code in codes):
                raise Refused(f"smtp {codes[0]}: {exc.recipients[0].message}") from None
            raise ChannelDown(f"smtp {codes[0] if codes else '?'}") from None
        except aiosmtplib.SMTPResponseException as exc:
            await self._reset()
            if exc.code >= 500:
                raise Refused(f"smtp {exc.code}: {exc.message}") from None
            raise ChannelDown(f"smtp {exc.code}") from None
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            await self._reset()
            raise ChannelDown(type(exc).__name__) from None
        return {"smtp": response[:200]}

    async def _reset(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.close()
            except Exception:  # a broken connection may fail to close; it is dropped
                logger.debug("smtp close failed", exc_info=True)

    async def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None and smtp.is_connected:
            try:
                await smtp.quit()
            except (TimeoutError, aiosmtplib.SMTPException, OSError):
                smtp.close()


# -- SMS --------------------------------------------------------------------------------
class SmsChannel:
    """An HTTP SMS gateway: ``POST {to, text}`` as JSON; 2xx sent, 4xx rejected for good,
    anything else (5xx, no answer) means the gateway is down for now."""

    name = "sms"

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def encode(self, message: Outgoing) -> dict[str, str]:
        return {
            "to": message.to,
            "text": message.sms,
            "idempotency_key": message.message_id.strip("<>"),
        }

    async def send(self, encoded: dict[str, str]) -> dict[str, Any] | None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        try:
            async with self._session.post(
                self.url,
                json={"to": encoded["to"], "text": encoded["text"]},
                headers={"Idempotency-Key": encoded["idempotency_key"]},
            ) as response:
                body = (await response.text())[:200]
                if 200 <= response.status < 300:
                    return {"gateway": response.status}
                if 400 <= response.status < 500 and response.status not in (408, 429):
                    raise Rejected(f"gateway {response.status}: {body}")
                raise ChannelDown(f"gateway {response.status}")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise ChannelDown(type(exc).__name__) from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def channels_for_settings(settings: TomoniSettings, timeout: float) -> dict[str, Channel]:
    """The channels configured: email with ``TOMONI_SMTP_URL``, SMS with ``TOMONI_SMS_URL``."""
    found: dict[str, Channel] = {}
    if settings.smtp_url:
        found["email"] = EmailChannel(settings.smtp_url, settings.mail_from, timeout)
    if settings.sms_url:
        found["sms"] = SmsChannel(settings.sms_url, timeout)
    return found
