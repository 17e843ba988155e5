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
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
import aiosmtplib
import png
import qrcode
import qrcode.constants

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

    async def send(self, message: Outgoing) -> dict[str, Any] | None:
        """Deliver or raise ChannelDown / Refused / Rejected; may return details to keep."""
        ...

    async def close(self) -> None: ...


# -- the QR image -------------------------------------------------------------------------
def qr_png(text: str, module_px: int = 8, border: int = 4) -> bytes:
    """The ticket QR as a 1-bit PNG. Error correction M as on the pages; a fixed mask
    pattern (any of the eight is valid) skips the library's search for the best one,
    which costs 5 ms a code, and the rows are packed here instead of pixel by pixel."""
    qr = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, border=border, mask_pattern=4
    )
    qr.add_data(text)
    qr.make(fit=True)
    matrix = qr.get_matrix()  # includes the quiet zone
    size = len(matrix) * module_px
    assert module_px % 8 == 0, "each module is a whole number of bytes"
    per = module_px // 8
    rows = []
    for line in matrix:
        row = b"".join((b"\x00" if dark else b"\xff") * per for dark in line)
        rows.extend([row] * module_px)
    out = io.BytesIO()
    png.Writer(size, size, greyscale=True, bitdepth=1).write_packed(out, rows)
    return out.getvalue()


# -- email ------------------------------------------------------------------------------
def build_email(message: Outgoing, sender: str) -> EmailMessage:
    """Plain text first, then HTML whose QR image is inline (cid), and the QR again as an
    attachment (for mail apps that hide inline images)."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = message.message_id
    mail["Auto-Submitted"] = "auto-generated"
    for name, value in message.headers.items():
        mail[name] = value
    mail.set_content(message.text, cte="8bit" if message.text.isascii() else "base64")
    mail.add_alternative(message.html, subtype="html")
    if message.qr_text:
        image = qr_png(message.qr_text)
        html_part = mail.get_payload()[1]  # type: ignore[index]
        assert isinstance(html_part, EmailMessage)
        html_part.add_related(image, "image", "png", cid="<ticket-qr>")
        mail.add_attachment(image, maintype="image", subtype="png", filename="ticket-qr.png")
    # Set last: making a multipart moves the Content-* headers set so far into the part.
    mail["Content-Language"] = message.language
    return mail


class EmailChannel:
    """SMTP through one kept-open connection (``smtp://`` or ``smtps://``; STARTTLS when
    the server offers it); reconnects after any failure."""

    name = "email"

    def __init__(self, url: str, sender: str, timeout: float) -> None:
        parts = urlsplit(url)
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

    async def send(self, message: Outgoing) -> dict[str, Any] | None:
        mail = build_email(message, self.sender)
        try:
            smtp = await self._client()
            _errors, response = await smtp.send_message(mail)
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

    async def send(self, message: Outgoing) -> dict[str, Any] | None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        try:
            async with self._session.post(
                self.url,
                json={"to": message.to, "text": message.sms},
                headers={"Idempotency-Key": message.message_id.strip("<>")},
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
