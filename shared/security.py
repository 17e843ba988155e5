"""Signing and secrets.

* Ticket tokens: the whole content of a ticket's QR code. Compact, signed with Ed25519,
  naming no person; any scanner verifies one offline with the published public keys.
  The byte layout is documented in ``docs/tickets.md``:

      byte 0        version (1)
      bytes 1–4     key id (first 4 bytes of SHA-256 of the raw public key)
      bytes 5–20    ticket id (UUID, 16 bytes)
      bytes 21–24   event tag (first 4 bytes of SHA-256 of the event slug, UTF-8)
      bytes 25–88   Ed25519 signature of b"tomoni-ticket-v1\\0" + bytes 0–24

  encoded as ``T1.`` + RFC 4648 base32 without padding (upper case: QR alphanumeric mode,
  so 146 characters fit a version 6 QR code at error correction M).
* Keys: a key ring in a folder (``<data dir>/keys``): PEM private keys, one active for
  signing; retired keys still verify until removed. Replicas share the folder.
* Secrets at rest are stored as SHA-256 digests; passwords with argon2id.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError

TICKET_PREFIX = "T1."
TICKET_CONTEXT = b"tomoni-ticket-v1\x00"
TICKET_VERSION = 1
_BODY_LEN = 25
_TOKEN_LEN = _BODY_LEN + 64


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def digest(secret: str) -> bytes:
    """What is stored for a capability secret: its SHA-256."""
    return hashlib.sha256(secret.encode()).digest()


def same_digest(secret: str, stored: bytes | None) -> bool:
    return stored is not None and hmac.compare_digest(digest(secret), bytes(stored))


@lru_cache(maxsize=1024)
def event_tag(slug: str) -> bytes:
    return hashlib.sha256(slug.encode()).digest()[:4]


def key_id(public: Ed25519PublicKey) -> bytes:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).digest()[:4]


@dataclass(frozen=True)
class SigningKey:
    kid: bytes
    private: Ed25519PrivateKey | None
    public: Ed25519PublicKey
    active: bool

    @property
    def kid_text(self) -> str:
        return b64url(self.kid)

    def public_raw(self) -> bytes:
        return self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class KeyRing:
    """Ed25519 keys in a folder: ``<kid>.pem`` private keys and ``ring.json`` saying which
    is active and which are retired (kept to verify, no longer to sign)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.keys: dict[bytes, SigningKey] = {}

    @classmethod
    def load_or_create(cls, folder: Path) -> KeyRing:
        ring = cls(folder)
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        if not (folder / "ring.json").exists():
            ring._create_first()
        ring._load()
        return ring

    def _create_first(self) -> None:
        lock = self.folder / ".creating"
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            # Another replica is creating the ring right now: wait for it.
            for _ in range(100):
                if (self.folder / "ring.json").exists():
                    return
                import time

                time.sleep(0.05)
            raise RuntimeError(f"key ring in {self.folder} is half made; remove {lock}") from None
        try:
            self.rotate()
        finally:
            os.close(fd)
            lock.unlink(missing_ok=True)

    def _load(self) -> None:
        self._stamp = (self.folder / "ring.json").stat().st_mtime_ns
        meta = json.loads((self.folder / "ring.json").read_text())
        self.keys = {}
        for entry in meta["keys"]:
            kid = b64url_decode(entry["kid"])
            pem = (self.folder / f"{entry['kid']}.pem").read_bytes()
            private = serialization.load_pem_private_key(pem, password=None)
            assert isinstance(private, Ed25519PrivateKey)
            self.keys[kid] = SigningKey(kid, private, private.public_key(), entry["active"])

    def _write_meta(self, entries: list[dict[str, object]]) -> None:
        tmp = self.folder / "ring.json.tmp"
        tmp.write_text(json.dumps({"keys": entries}, indent=2))
        os.replace(tmp, self.folder / "ring.json")

    def rotate(self) -> SigningKey:
        """Make a new active key; the previous ones keep verifying."""
        private = Ed25519PrivateKey.generate()
        kid = key_id(private.public_key())
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path = self.folder / f"{b64url(kid)}.pem"
        with open(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600), "wb") as f:
            f.write(pem)
        entries = []
        with contextlib.suppress(FileNotFoundError):
            entries = json.loads((self.folder / "ring.json").read_text())["keys"]
        for e in entries:
            e["active"] = False
        entries.append({"kid": b64url(kid), "active": True})
        self._write_meta(entries)
        self._load()
        return self.keys[kid]

    def retire(self, kid_text: str) -> None:
        """Stop verifying with a key (after every ticket it signed is past its event)."""
        entries = json.loads((self.folder / "ring.json").read_text())["keys"]
        kept = [e for e in entries if e["kid"] != kid_text or e["active"]]
        self._write_meta(kept)
        if len(kept) < len(entries):
            (self.folder / f"{kid_text}.pem").unlink(missing_ok=True)
        self._load()

    def reload_if_changed(self) -> bool:
        """Pick up a rotation made by ``tomoni keys rotate`` (or another replica)."""
        try:
            stamp = (self.folder / "ring.json").stat().st_mtime_ns
        except FileNotFoundError:
            return False
        if stamp == getattr(self, "_stamp", None):
            return False
        self._load()
        self._stamp = stamp
        return True

    @property
    def active(self) -> SigningKey:
        return next(k for k in self.keys.values() if k.active)

    def public_jwks(self) -> list[dict[str, str]]:
        return [
            {"kid": k.kid_text, "alg": "Ed25519", "public_key": b64url(k.public_raw())}
            for k in self.keys.values()
        ]


def sign_ticket(key: SigningKey, ticket_id: uuid.UUID, event_slug: str) -> str:
    assert key.private is not None
    body = bytes([TICKET_VERSION]) + key.kid + ticket_id.bytes + event_tag(event_slug)
    sig = key.private.sign(TICKET_CONTEXT + body)
    return TICKET_PREFIX + base64.b32encode(body + sig).decode().rstrip("=")


@dataclass(frozen=True)
class TicketClaims:
    ticket_id: uuid.UUID
    kid: bytes
    event_tag: bytes

    def is_for(self, slug: str) -> bool:
        return hmac.compare_digest(self.event_tag, event_tag(slug))


_B32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_B32_AS_DIGITS = str.maketrans(_B32_ALPHABET, "0123456789abcdefghijklmnopqrstuv")
_B32_TEXT = re.compile(f"[{_B32_ALPHABET}]+")


def _b32_exact(text: str, length: int) -> bytes | None:
    """``length`` bytes from unpadded upper-case RFC 4648 base32, or None. Only the one
    spelling the encoder writes is accepted: the right number of characters, and zero in
    the bits of the last character that carry no data (a lenient decoder would read
    several different QR texts as the same ticket). One big-integer conversion, where
    ``base64.b32decode`` loops in Python: it was 5% of a scan."""
    if len(text) != -(-length * 8 // 5) or not _B32_TEXT.fullmatch(text):
        return None
    value = int(text.translate(_B32_AS_DIGITS), 32)
    spare = len(text) * 5 - length * 8
    if value & ((1 << spare) - 1):
        return None
    return (value >> spare).to_bytes(length, "big")


class InvalidTicket(Exception):
    """Not a ticket of ours: unreadable, unknown key, or a signature that does not match."""


def verify_ticket(text: str, public_keys: dict[bytes, Ed25519PublicKey]) -> TicketClaims:
    """Check a ``qr_text`` with public keys alone (raises :class:`InvalidTicket`)."""
    if not isinstance(text, str) or not text.startswith(TICKET_PREFIX) or len(text) > 200:
        raise InvalidTicket("format")
    raw = _b32_exact(text[len(TICKET_PREFIX) :].strip(), _TOKEN_LEN)
    if raw is None:
        raise InvalidTicket("encoding")
    if raw[0] != TICKET_VERSION:
        raise InvalidTicket("version")
    body, sig = raw[:_BODY_LEN], raw[_BODY_LEN:]
    kid = body[1:5]
    public = public_keys.get(kid)
    if public is None:
        raise InvalidTicket("unknown key")
    if not _verified(public, sig, TICKET_CONTEXT + body):
        raise InvalidTicket("signature")
    return TicketClaims(ticket_id=uuid.UUID(bytes=body[5:21]), kid=kid, event_tag=body[21:25])


_raw_keys: dict[int, tuple[Ed25519PublicKey, bytes]] = {}


def _verified(public: Ed25519PublicKey, sig: bytes, message: bytes) -> bool:
    """Ed25519 verification by libsodium (PyNaCl): the same answer as ``public.verify``
    (RFC 8032, strict about non-canonical signatures), in half the time — a gate or booth
    checks one signature per scan, and it was a fifth of a scan's CPU."""
    held = _raw_keys.get(id(public))
    if held is None or held[0] is not public:
        if len(_raw_keys) > 64:
            _raw_keys.clear()
        held = _raw_keys[id(public)] = (public, public.public_bytes_raw())
    if len(sig) != 64:
        return False
    try:
        crypto_sign_open(sig + message, held[1])
        return True
    except BadSignatureError:
        return False


def public_key_from_raw(raw_b64url: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(b64url_decode(raw_b64url))


_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# A real hash to verify against when an account does not exist, so a login for an
# unknown email costs the same time as one for a known email with a wrong password.
DUMMY_PASSWORD_HASH = _hasher.hash("tomoni-no-such-account")


# -- claim tokens (devices, organizers) -------------------------------------------------
# ``<prefix><base64url JSON claims>.<base64url signature>``, signed like tickets but with
# a context per kind, so one kind can never pass for another.
TOKEN_KINDS = {
    "device": ("D1.", b"tomoni-device-v1\x00"),
    "organizer": ("O1.", b"tomoni-organizer-v1\x00"),
}


def sign_claims(key: SigningKey, kind: str, claims: dict[str, object]) -> str:
    prefix, context = TOKEN_KINDS[kind]
    assert key.private is not None
    body = json.dumps({**claims, "k": key.kid_text}, separators=(",", ":")).encode()
    sig = key.private.sign(context + body)
    return f"{prefix}{b64url(body)}.{b64url(sig)}"


def verify_claims(
    token: str, kind: str, public_keys: dict[bytes, Ed25519PublicKey], now: float | None = None
) -> dict[str, object]:
    """The claims of a genuine, unexpired token (``x``: expiry, Unix seconds); raises
    :class:`InvalidTicket` otherwise. Scope and revocation are the caller's to check."""
    import time

    prefix, context = TOKEN_KINDS[kind]
    if not token.startswith(prefix) or len(token) > 2000:
        raise InvalidTicket("format")
    try:
        body_text, sig_text = token[len(prefix) :].split(".")
        body, sig = b64url_decode(body_text), b64url_decode(sig_text)
        claims = json.loads(body)
        public = public_keys.get(b64url_decode(str(claims["k"])))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InvalidTicket("encoding") from None
    if public is None:
        raise InvalidTicket("unknown key")
    if not _verified(public, sig, context + body):
        raise InvalidTicket("signature")
    if not isinstance(claims, dict) or float(claims.get("x", 0)) < (now or time.time()):
        raise InvalidTicket("expired")
    return claims


def sign_device_token(key: SigningKey, claims: dict[str, object]) -> str:
    return sign_claims(key, "device", claims)


def verify_device_token(
    token: str, public_keys: dict[bytes, Ed25519PublicKey]
) -> dict[str, object]:
    return verify_claims(token, "device", public_keys)


def keys_from_jwks(jwks: list[dict[str, str]]) -> dict[bytes, Ed25519PublicKey]:
    return {b64url_decode(k["kid"]): public_key_from_raw(k["public_key"]) for k in jwks}
