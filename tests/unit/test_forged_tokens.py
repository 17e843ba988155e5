"""Forged and mutated tickets and booth codes against the real verifiers, in process:
none is accepted, and each is refused the documented way.

What a gate or a booth decides about a ``qr_text`` before any database work is
``shared.security.verify_ticket`` (format, key id, signature: raises ``InvalidTicket``,
answered ``invalid_signature``) and then ``TicketClaims.is_for`` (the event: answered
``wrong_event``); ``services/checkin/service.py`` (``scan``) and
``services/stamprally/service.py`` (``stamp``, ``redeem``) call exactly these two.
:func:`gate_verdict` is that pair. The verifier itself does not check the event, so a
genuine ticket of another event passes it and must be refused by ``is_for``.

A booth's rotating self-service code is checked by ``check_booth_code`` in
``services/stamprally/domain.py``: a refusal is ``InvalidBoothCode`` with reason
``invalid`` or ``expired`` (answered ``invalid_code`` / ``expired_code``). Within its
two minutes a genuine code is meant to be accepted for every visitor at the booth (one
stamp per ticket and booth is the database's guarantee, tested in
tests/integration/test_forged_scans.py); replayed here means presented after that.

"Forged" means any text that does not spell the signed bytes of a genuine token. A
*respelling* of a genuine ticket (one trailing ``=``, surrounding whitespace, another value
of the three unused low bits of the last base32 symbol) spells the very same 89 signed
bytes: it is no forgery, but only the whitespace is forgiven (a ticket has one text).
The forgers never produce one (each ticket is checked with an independent decoder,
:func:`spelled_bytes`); respellings are tested on their own, and so are the booth codes'
(``test_respellings_…``).

The normal run checks a deterministic sample; ``make soak`` (``pytest -m soak -s``) checks
1,000,000 of each and prints the figures written down in docs/reliability.md. Every run
prints its counts and rate (``pytest -s``).

Known failing (a product bug, reported, not fixed here): a booth code whose step is a
number outside 0…2⁶⁴−1 raises ``struct.error`` instead of ``InvalidBoothCode``
(``test_a_booth_code_with_an_out_of_range_step_is_refused_cleanly``).
"""

from __future__ import annotations

import base64
import hmac
import random
import string
import time
import types
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from services.stamprally import domain as rally
from shared import security
from shared.security import (
    TICKET_CONTEXT,
    TICKET_PREFIX,
    TICKET_VERSION,
    InvalidTicket,
    SigningKey,
    TicketClaims,
    b64url,
    event_tag,
    key_id,
    keys_from_jwks,
    sign_ticket,
)

SLUG = "multicultural-fair-2027"
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
TOKEN_BYTES = 89
SYMBOLS = 143  # base32 symbols for 89 bytes: 715 bits, the last 3 unused
ED25519_ORDER = 2**252 + 27742317777372353535851937790883648493
MAX_TEXT = 500  # the scan APIs take a qr_text of up to 512 characters
FIELDS = {
    "version": (0, 1),
    "kid": (1, 5),
    "ticket_id": (5, 21),
    "event_tag": (21, 25),
    "signature_r": (25, 57),
    "signature_s": (57, 89),
}

# The normal run: what keeps this module near 15 s on a slow 2-core machine.
TICKET_SAMPLE = 15_000
BOOTH_SAMPLE = 20_000
SOAK = 1_000_000

# The booth codes' world: a fixed secret, clock and booths (deterministic runs).
BOOTH_SECRET = bytes(range(32))
BOOTHS = ("vn", "np", "ph", "br-food")
NOW = 1_900_000_000.0


# -- keys and spellings -----------------------------------------------------------------
def signing_key(seed: int, *, active: bool = True) -> SigningKey:
    """A key made from a seed, so that any failing input can be made again."""
    private = Ed25519PrivateKey.from_private_bytes(random.Random(seed).randbytes(32))
    return SigningKey(key_id(private.public_key()), private, private.public_key(), active)


def published(*keys: SigningKey) -> dict[bytes, Ed25519PublicKey]:
    """The verifier's table of keys, built as the services build it: from the list that
    registration publishes (``{kid, public_key}``, base64url)."""
    return keys_from_jwks(
        [{"kid": k.kid_text, "alg": "Ed25519", "public_key": b64url(k.public_raw())} for k in keys]
    )


def spell(raw: bytes) -> str:
    """The canonical text of some bytes: ``T1.`` and base32 without padding."""
    return TICKET_PREFIX + base64.b32encode(raw).decode().rstrip("=")


def raw_of(genuine: str) -> bytes:
    """The 89 bytes of a canonical (genuine) ticket text."""
    b32 = genuine[len(TICKET_PREFIX) :]
    return base64.b32decode(b32 + "=" * (-len(b32) % 8))


_TO_BASE32HEX = str.maketrans(B32, "0123456789ABCDEFGHIJKLMNOPQRSTUV")


def spelled_bytes(text: str) -> bytes | None:
    """The 89 bytes a text spells when read the most lenient way (whitespace around the
    base32 part, trailing ``=`` and the last symbol's 3 unused bits ignored); None when it
    spells no 89 bytes. Independent of the verifier (it uses ``int(…, 32)``, not the
    base64 module): it only tells a respelling of a genuine ticket from a forgery."""
    if not text.startswith(TICKET_PREFIX):
        return None
    body = text[len(TICKET_PREFIX) :].strip().rstrip("=")
    if len(body) != SYMBOLS or not set(body) <= set(B32):
        return None
    return (int(body.translate(_TO_BASE32HEX), 32) >> 3).to_bytes(TOKEN_BYTES, "big")


def symbol_alias(old: str, new: str) -> bool:
    """Whether two last symbols spell the same bits (only their top 2 bits are used)."""
    return new in B32 and B32.index(old) >> 3 == B32.index(new) >> 3


# -- the forger -------------------------------------------------------------------------
@dataclass(frozen=True)
class Forged:
    kind: str  # the mutation class
    text: str
    expected: str  # the documented answer: invalid_signature, wrong_event, …


class Forger:
    """Forged tickets made from genuine ones, one class at a time (:attr:`CLASSES`).

    ``signer`` is a published key with its private half (the forger uses it only for
    tokens that must still be refused: another event, another version, another signing
    context); ``other`` another published key (a retired one) or None; ``stranger`` a key
    nobody published."""

    def __init__(
        self,
        slug: str,
        genuine: list[str],
        *,
        signer: SigningKey,
        stranger: SigningKey,
        other: SigningKey | None = None,
        seed: int = 0,
    ) -> None:
        self.slug = slug
        self.genuine = genuine
        self.raws = [raw_of(t) for t in genuine]
        self.known = set(self.raws)
        self.signer, self.other, self.stranger = signer, other, stranger
        self.rng = random.Random(seed)
        self.impostor = Ed25519PrivateKey.from_private_bytes(self.rng.randbytes(32))
        self.published_kids = [k.kid for k in (signer, other) if k is not None]

    # the classes, with the answer each must get
    CLASSES: ClassVar[dict[str, str]] = {
        "bit_flip": "invalid_signature",
        "multi_bit_flip": "invalid_signature",
        "byte_substitution": "invalid_signature",
        "field_substitution": "invalid_signature",
        "byte_truncation": "invalid_signature",
        "byte_extension": "invalid_signature",
        "splice": "invalid_signature",
        "swapped_kid": "invalid_signature",
        "unknown_kid_key": "invalid_signature",
        "known_kid_other_key": "invalid_signature",
        "retargeted_event": "invalid_signature",
        "altered_version": "invalid_signature",
        "resigned_version": "invalid_signature",
        "wrong_context": "invalid_signature",
        "malleable_signature": "invalid_signature",
        "degenerate_signature": "invalid_signature",
        "random_bytes": "invalid_signature",
        "symbol_substitution": "invalid_signature",
        "text_bit_flip": "invalid_signature",
        "case": "invalid_signature",
        "padding": "invalid_signature",
        "alphabet_swap": "invalid_signature",
        "homoglyph": "invalid_signature",
        "whitespace_inside": "invalid_signature",
        "prefix": "invalid_signature",
        "text_truncation": "invalid_signature",
        "text_extension": "invalid_signature",
        "garbage": "invalid_signature",
        "other_event": "wrong_event",
    }

    def stream(self, n: int) -> Iterator[Forged]:
        """``n`` forged tickets, the classes in turn (so any sample covers them all)."""
        kinds = list(self.CLASSES)
        for i in range(n):
            kind = kinds[i % len(kinds)]
            yield Forged(kind, self.make(kind), self.CLASSES[kind])

    def make(self, kind: str) -> str:
        make: Callable[[], str] = getattr(self, f"_{kind}")
        for _ in range(100):
            text = make()
            if len(text) <= MAX_TEXT and spelled_bytes(text) not in self.known:
                return text
        raise AssertionError(f"the forger could not make a {kind}")  # pragma: no cover

    # -- helpers
    def _raw(self) -> bytearray:
        return bytearray(self.rng.choice(self.raws))

    def _text(self) -> str:
        return self.rng.choice(self.genuine)

    def _other_slug(self) -> str:
        rng = self.rng
        slug = rng.choice(
            [
                f"event-{rng.randrange(10**9)}",
                self.slug.upper(),
                self.slug + "x",
                self.slug[:-1],
                self.slug + " ",
                " " + self.slug,
                self.slug.replace("-", "_"),
                "",
            ]
        )
        # 4-byte tags: a collision is possible in principle; never call it a forgery.
        return slug if event_tag(slug) != event_tag(self.slug) else "another-event"

    def _body(self, kid: bytes, slug: str, version: int = TICKET_VERSION) -> bytes:
        ticket = uuid.UUID(bytes=self.rng.randbytes(16))
        return bytes([version]) + kid + ticket.bytes + event_tag(slug)

    # -- byte-level mutations of a genuine ticket, spelled canonically
    def _bit_flip(self) -> str:
        raw = self._raw()
        i = self.rng.randrange(TOKEN_BYTES * 8)
        raw[i // 8] ^= 0x80 >> (i % 8)
        return spell(bytes(raw))

    def _multi_bit_flip(self) -> str:
        raw = self._raw()
        for i in self.rng.sample(range(TOKEN_BYTES * 8), self.rng.randint(2, 24)):
            raw[i // 8] ^= 0x80 >> (i % 8)
        return spell(bytes(raw))

    def _byte_substitution(self) -> str:
        raw = self._raw()
        i = self.rng.randrange(TOKEN_BYTES)
        raw[i] = (raw[i] + self.rng.randrange(1, 256)) % 256
        return spell(bytes(raw))

    def _field_substitution(self) -> str:
        raw = self._raw()
        a, b = FIELDS[self.rng.choice(list(FIELDS))]
        new = raw[a:b]
        while new == raw[a:b]:
            new = bytearray(self.rng.randbytes(b - a))
        raw[a:b] = new
        return spell(bytes(raw))

    def _byte_truncation(self) -> str:
        raw = bytes(self._raw())
        k = self.rng.randrange(TOKEN_BYTES)
        return spell(raw[:k] if self.rng.random() < 0.5 else raw[TOKEN_BYTES - k :])

    def _byte_extension(self) -> str:
        raw = bytes(self._raw())
        extra = self.rng.randbytes(self.rng.randint(1, 40))
        if self.rng.random() < 0.5:
            return spell(raw + extra)
        i = self.rng.randrange(TOKEN_BYTES + 1)
        return spell(raw[:i] + extra[:8] + raw[i:])

    def _splice(self) -> str:
        """Two genuine tickets cut and joined: one's body with the other's signature (or
        ticket id, or half signature)."""
        a, b = self.rng.sample(self.raws, 2)
        mode = self.rng.randrange(3)
        if mode == 0:
            return spell(a[:25] + b[25:])
        if mode == 1:
            return spell(a[:5] + b[5:21] + a[21:])
        return spell(a[:57] + b[57:])

    def _swapped_kid(self) -> str:
        """A genuine ticket naming another key: published if there is one, else any."""
        raw = self._raw()
        choices = [k for k in self.published_kids if k != raw[1:5]]
        raw[1:5] = self.rng.choice(choices) if choices else self.rng.randbytes(4)
        return spell(bytes(raw))

    def _unknown_kid_key(self) -> str:
        """Made by ``sign_ticket`` itself, with a key nobody published."""
        return sign_ticket(self.stranger, uuid.UUID(bytes=self.rng.randbytes(16)), self.slug)

    def _known_kid_other_key(self) -> str:
        """A well-formed ticket naming a published key, signed by another key."""
        body = self._body(self.rng.choice(self.published_kids), self.slug)
        return spell(body + self.impostor.sign(TICKET_CONTEXT + body))

    def _retargeted_event(self) -> str:
        """A genuine signature with the event tag changed: this event's ticket moved to
        another, or another event's ticket (genuinely signed) moved to this one."""
        if self.rng.random() < 0.5:
            raw = self._raw()
            raw[21:25] = event_tag(self._other_slug())
            return spell(bytes(raw))
        body = self._body(self.signer.kid, self._other_slug())
        assert self.signer.private is not None
        raw = bytearray(body + self.signer.private.sign(TICKET_CONTEXT + body))
        raw[21:25] = event_tag(self.slug)
        return spell(bytes(raw))

    def _version(self) -> int:
        return self.rng.choice([0, 2, 3, 0x41, 0x7F, 0x80, 0x81, 0xFE, 0xFF])

    def _altered_version(self) -> str:
        raw = self._raw()
        raw[0] = self._version()
        return spell(bytes(raw))

    def _resigned_version(self) -> str:
        """Another version, signed properly by the real key: the version check alone must
        refuse it."""
        body = self._body(self.signer.kid, self.slug, version=self._version())
        assert self.signer.private is not None
        return spell(body + self.signer.private.sign(TICKET_CONTEXT + body))

    def _wrong_context(self) -> str:
        """A real key's signature over the right bytes but another context (another kind
        of Tomoni token, no context at all, a look-alike)."""
        context = self.rng.choice(
            [
                b"",
                b"tomoni-ticket-v1",
                b"tomoni-ticket-v2\x00",
                b"tomoni-device-v1\x00",
                b"tomoni-organizer-v1\x00",
                b"TOMONI-TICKET-V1\x00",
                b"\x00tomoni-ticket-v1",
                TICKET_CONTEXT + b"\x00",
            ]
        )
        body = self._body(self.signer.kid, self.slug)
        assert self.signer.private is not None
        message = context + body if self.rng.random() < 0.8 else body + context
        return spell(body + self.signer.private.sign(message))

    def _malleable_signature(self) -> str:
        """S + k·L: the same point, a non-canonical scalar (RFC 8032 says refuse)."""
        raw = self._raw()
        s = int.from_bytes(raw[57:89], "little")
        top = (2**256 - 1 - s) // ED25519_ORDER
        s += self.rng.randint(1, max(1, top)) * ED25519_ORDER
        if s >= 2**256:  # pragma: no cover - S is always below L
            s -= ED25519_ORDER
        raw[57:89] = s.to_bytes(32, "little")
        return spell(bytes(raw))

    def _degenerate_signature(self) -> str:
        raw = self._raw()
        identity = bytes([1]) + bytes(31)
        raw[25:89] = self.rng.choice(
            [
                bytes(64),
                b"\xff" * 64,
                identity + bytes(32),
                identity + ED25519_ORDER.to_bytes(32, "little"),
                self.signer.public_raw() + bytes(32),
                bytes(32) + identity,
                self.rng.randbytes(32) + bytes(32),
            ]
        )
        return spell(bytes(raw))

    def _random_bytes(self) -> str:
        """Random bytes in the right shape: version 1 and a published key id, so each
        reaches the signature check."""
        kid = self.rng.choice(self.published_kids)
        return spell(bytes([TICKET_VERSION]) + kid + self.rng.randbytes(TOKEN_BYTES - 5))

    # -- text-level mutations of a genuine ticket
    def _symbol_substitution(self) -> str:
        text = self._text()
        i = self.rng.randrange(len(TICKET_PREFIX), len(text))
        new = self.rng.choice([c for c in B32 if c != text[i]])
        if i == len(text) - 1 and symbol_alias(text[i], new):
            new = B32[(B32.index(text[i]) + 8) % 32]  # another value of the used bits
        return text[:i] + new + text[i + 1 :]

    def _text_bit_flip(self) -> str:
        text = self._text()
        i = self.rng.randrange(len(text))
        return text[:i] + chr(ord(text[i]) ^ (1 << self.rng.randrange(8))) + text[i + 1 :]

    def _case(self) -> str:
        text = self._text()
        mode = self.rng.randrange(4)
        if mode == 0:
            return text.lower()
        if mode == 1:
            return TICKET_PREFIX + text[len(TICKET_PREFIX) :].lower()
        if mode == 2:
            return "t" + text[1:]
        letters = [i for i, c in enumerate(text) if i >= len(TICKET_PREFIX) and c.isalpha()]
        i = self.rng.choice(letters)
        return text[:i] + text[i].lower() + text[i + 1 :]

    def _padding(self) -> str:
        text = self._text()
        """``=`` where no padding goes (padding after the last symbol only respells the
        same bytes: see the respellings test)."""
        mode = self.rng.randrange(4)
        i = self.rng.randrange(len(TICKET_PREFIX), len(text))
        if mode == 0:
            return text[:i] + "=" * self.rng.randint(1, 6) + text[i:]
        if mode == 1:
            return text[:i] + "=" + text[i + 1 :]
        if mode == 2:
            return text[:-1] + "=" * self.rng.randint(1, 8)
        return TICKET_PREFIX + "=" * self.rng.randint(1, 6) + text[len(TICKET_PREFIX) :]

    def _alphabet_swap(self) -> str:
        """The genuine bytes in another binary-to-text encoding."""
        raw = bytes(self._raw())
        encoded = self.rng.choice(
            [
                base64.b64encode(raw).decode(),
                base64.b64encode(raw).decode().rstrip("="),
                base64.urlsafe_b64encode(raw).decode().rstrip("="),
                base64.b32hexencode(raw).decode().rstrip("="),
                base64.b32hexencode(raw).decode(),
                base64.b16encode(raw).decode(),
                base64.b16encode(raw).decode().lower(),
                base64.b85encode(raw).decode(),
                base64.a85encode(raw).decode(),
            ]
        )
        return TICKET_PREFIX + encoded

    HOMOGLYPHS: ClassVar[dict[str, str]] = {
        "O": "0",
        "I": "1",
        "L": "1",
        "B": "8",
        "A": "\u0410",  # Cyrillic
        "E": "\u0415",
        "M": "\u041c",
        "T": "\u0422",
        "2": "\uff12",  # full width
        "Z": "\uff3a",
    }

    def _homoglyph(self) -> str:
        text = self._text()
        spots = [i for i, c in enumerate(text) if c in self.HOMOGLYPHS]
        i = self.rng.choice(spots)
        if self.rng.random() < 0.2:  # the whole text in full-width characters
            return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)
        return text[:i] + self.HOMOGLYPHS[text[i]] + text[i + 1 :]

    def _whitespace_inside(self) -> str:
        text = self._text()
        i = self.rng.randrange(len(TICKET_PREFIX) + 1, len(text))  # between two symbols
        mark = self.rng.choice([" ", "\t", "\n", "\r\n", "\x00", "\u200b", "\xa0", "\ufeff"])
        return text[:i] + mark + text[i:]

    def _prefix(self) -> str:
        text = self._text()
        rest = text[len(TICKET_PREFIX) :]
        prefix = self.rng.choice(
            [
                "",
                "T1",
                "T1:",
                "T1-",
                "T2.",
                "T0.",
                "T11.",
                "T1..",
                "TT1.",
                ".T1.",
                "D1.",
                "O1.",
                "B1.",
                "T1.T1.",
                "\uff34\uff11\uff0e",
                "T1\u3002",
                "\ufeffT1.",
                " T1.",
            ]
        )
        return prefix + rest

    def _text_truncation(self) -> str:
        text = self._text()
        if self.rng.random() < 0.6:
            return text[: self.rng.randrange(len(text))]
        i = self.rng.randrange(len(TICKET_PREFIX), len(text) - 1)
        j = self.rng.randint(i + 1, len(text) - 1)
        return text[:i] + text[j:]

    def _text_extension(self) -> str:
        text = self._text()
        mode = self.rng.randrange(4)
        if mode == 0:
            return text + "".join(self.rng.choices(B32, k=self.rng.randint(1, 60)))
        if mode == 1:
            return text + "".join(self.rng.choices(string.printable, k=self.rng.randint(1, 60)))
        if mode == 2:
            return text + self.rng.choice(self.genuine)
        i = self.rng.randrange(len(TICKET_PREFIX), len(text))
        return text[:i] + "".join(self.rng.choices(B32, k=self.rng.randint(1, 8))) + text[i:]

    def _garbage(self) -> str:
        rng = self.rng
        mode = rng.randrange(5)
        n = rng.randrange(MAX_TEXT + 1)
        if mode == 0:
            return "".join(rng.choices(string.printable, k=n))
        if mode == 1:
            return TICKET_PREFIX + "".join(rng.choices(B32, k=rng.randrange(300)))
        if mode == 2:  # any code point, lone surrogates included
            return "".join(chr(rng.randrange(0x110000)) for _ in range(n // 4))
        if mode == 3:
            return rng.choice(
                ["", "hello", "null", "T1.", "{}", "0" * 146, "A" * 146, TICKET_PREFIX + "A" * 143]
            )
        return TICKET_PREFIX + "".join(rng.choices(B32, k=SYMBOLS))

    # -- a genuine signature for another event
    def _other_event(self) -> str:
        key = self.rng.choice([k for k in (self.signer, self.other) if k is not None])
        return sign_ticket(key, uuid.UUID(bytes=self.rng.randbytes(16)), self._other_slug())


# -- the verdicts and the harness -------------------------------------------------------
Verdict = Callable[[str], tuple[str, str]]


def gate_verdict(public_keys: dict[bytes, Ed25519PublicKey], slug: str) -> Verdict:
    """What a gate (or a booth) decides from the text alone, as the services do:
    ``("accepted", ticket id)`` or ``(documented reason, the verifier's own reason)``.
    The functions are looked up at each call, so a test may swap in a weaker one."""

    def verdict(text: str) -> tuple[str, str]:
        try:
            claims = security.verify_ticket(text, public_keys)
        except InvalidTicket as exc:
            return "invalid_signature", str(exc)
        if not claims.is_for(slug):
            return "wrong_event", "event"
        return "accepted", str(claims.ticket_id)

    return verdict


def booth_verdict(key: bytes, event: str, now: float) -> Verdict:
    """What the card's self-stamp decides from a booth code: ``("accepted", booth)`` or
    ``("invalid" | "expired", …)``."""

    def verdict(code: str) -> tuple[str, str]:
        try:
            booth = rally.check_booth_code(key, event, code, now)
        except rally.InvalidBoothCode as exc:
            return exc.reason, exc.reason
        return "accepted", booth

    return verdict


@dataclass
class Tally:
    """Every answer of one run, by class; the first few inputs of anything wrong."""

    what: str
    sent: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    details: Counter[str] = field(default_factory=Counter)
    accepted: int = 0
    unexpected: int = 0
    misreasoned: int = 0
    examples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.sent.values())

    def note(self, problem: str, item: Forged, outcome: str) -> None:
        if len(self.examples) < 10:
            self.examples.append(f"{problem} [{item.kind}] {item.text!r} -> {outcome}")

    def problems(self) -> str:
        return (
            f"{self.accepted} accepted, {self.unexpected} unexpected exceptions, "
            f"{self.misreasoned} refused with another reason; e.g. {self.examples}"
        )

    def assert_clean(self) -> None:
        assert (self.accepted, self.unexpected, self.misreasoned) == (0, 0, 0), self.problems()

    def report(self) -> str:
        rate = self.total / self.seconds if self.seconds else 0.0
        lines = [
            f"{self.what}: {self.total:,} forged in {self.seconds:.1f} s ({rate:,.0f}/s): "
            f"{self.accepted} accepted, {self.unexpected} unexpected exceptions, "
            f"{self.misreasoned} with another reason",
            "  answers: " + ", ".join(f"{k} {v:,}" for k, v in self.answers.most_common()),
            "  verifier's reasons: "
            + ", ".join(f"{k} {v:,}" for k, v in self.details.most_common()),
            "  classes: " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.sent.items())),
        ]
        return "\n".join(lines)


def run(what: str, items: Iterable[Forged], verdict: Verdict) -> Tally:
    """Put every item through ``verdict``; count what comes back."""
    tally = Tally(what)
    started = time.perf_counter()
    for item in items:
        tally.sent[item.kind] += 1
        try:
            answer, detail = verdict(item.text)
        except Exception as exc:  # the harness records it: one more kind of failure
            tally.unexpected += 1
            tally.note("unexpected", item, repr(exc))
            continue
        tally.answers[answer] += 1
        tally.details[detail if answer != "accepted" else "accepted"] += 1
        if answer == "accepted":
            tally.accepted += 1
            tally.note("accepted", item, detail)
        elif answer != item.expected:
            tally.misreasoned += 1
            tally.note(f"expected {item.expected}", item, answer)
    tally.seconds = time.perf_counter() - started
    return tally


# -- the booth code forger --------------------------------------------------------------
class BoothForger:
    """Forged, replayed and misdirected booth codes. A code is
    ``B1.<booth>.<step>.<mac>``: ``step`` the 30-second window it was made in, ``mac``
    16 bytes of HMAC-SHA-256 in base64url (22 symbols; only the top 2 bits of the last
    one are used)."""

    CLASSES: ClassVar[dict[str, str]] = {
        "mac_bit_flip": "invalid",
        "mac_symbol_substitution": "invalid",
        "mac_truncation": "invalid",
        "mac_extension": "invalid",
        "other_booth": "invalid",
        "other_event": "invalid",
        "other_key": "invalid",
        "step_shift": "invalid",
        "structure": "invalid",
        "prefix": "invalid",
        "ticket_as_code": "invalid",
        "garbage": "invalid",
        "replayed_late": "expired",
        "from_the_future": "expired",
    }
    B64 = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"

    def __init__(
        self, key: bytes, event: str, booths: tuple[str, ...], now: float, seed: int = 0
    ) -> None:
        self.key, self.event, self.booths, self.now = key, event, booths, now
        self.rng = random.Random(seed)
        self.other_key = self.rng.randbytes(32)

    def genuine(self) -> str:
        """A code that is valid at ``now`` (made in the last 89 seconds)."""
        booth = self.rng.choice(self.booths)
        return rally.booth_code(self.key, self.event, booth, self.now - self.rng.randrange(90))

    def stream(self, n: int) -> Iterator[Forged]:
        kinds = list(self.CLASSES)
        for i in range(n):
            kind = kinds[i % len(kinds)]
            make: Callable[[], str] = getattr(self, f"_{kind}")
            yield Forged(kind, make(), self.CLASSES[kind])

    def _parts(self) -> tuple[str, str, str]:
        booth, step, mac = self.genuine()[len(rally.BOOTH_CODE_PREFIX) :].rsplit(".", 2)
        return booth, step, mac

    @staticmethod
    def _code(booth: str, step: str | int, mac: str) -> str:
        return f"{rally.BOOTH_CODE_PREFIX}{booth}.{step}.{mac}"

    @staticmethod
    def _mac_bytes(mac: str) -> bytearray:
        return bytearray(base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4)))

    @staticmethod
    def _mac_text(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def _mac_bit_flip(self) -> str:
        booth, step, mac = self._parts()
        raw = self._mac_bytes(mac)
        for i in self.rng.sample(range(128), self.rng.choice([1, 1, 1, 2, 5])):
            raw[i // 8] ^= 0x80 >> (i % 8)
        return self._code(booth, step, self._mac_text(bytes(raw)))

    def _mac_symbol_substitution(self) -> str:
        booth, step, mac = self._parts()
        i = self.rng.randrange(len(mac))
        new = self.rng.choice([c for c in self.B64 if c != mac[i]])
        if i == len(mac) - 1 and self.B64.index(new) >> 4 == self.B64.index(mac[i]) >> 4:
            new = self.B64[(self.B64.index(mac[i]) + 16) % 64]  # change a used bit
        return self._code(booth, step, mac[:i] + new + mac[i + 1 :])

    def _mac_truncation(self) -> str:
        booth, step, mac = self._parts()
        return self._code(booth, step, mac[: self.rng.randrange(len(mac))])

    def _mac_extension(self) -> str:
        booth, step, mac = self._parts()
        return self._code(booth, step, mac + "".join(self.rng.choices(self.B64, k=4)))

    def _other_booth(self) -> str:
        booth, step, mac = self._parts()
        other = self.rng.choice(
            [b for b in self.booths if b != booth]
            + [booth.upper(), booth + "x", booth[:-1] or "z", "", "b00", booth + ".", "*"]
        )
        return self._code(other, step, mac)

    def _other_event(self) -> str:
        booth = self.rng.choice(self.booths)
        event = self.rng.choice([self.event + "-2028", self.event.upper(), "another", ""])
        return rally.booth_code(self.key, event, booth, self.now - self.rng.randrange(90))

    def _other_key(self) -> str:
        booth = self.rng.choice(self.booths)
        return rally.booth_code(self.other_key, self.event, booth, self.now)

    def _step_shift(self) -> str:
        booth, step, mac = self._parts()
        shift = self.rng.choice([-2, -1, 1, 2, 3, self.rng.randint(4, 10**6)])
        return self._code(booth, int(step) + shift, mac)

    def _structure(self) -> str:
        booth, step, mac = self._parts()
        return self.rng.choice(
            [
                self._code(booth, "", mac),
                self._code(booth, "1e3", mac),
                self._code(booth, "0x10", mac),
                self._code(booth, "nan", mac),
                self._code(booth, step + ".5", mac),
                self._code(booth, step, ""),
                f"{rally.BOOTH_CODE_PREFIX}{booth}.{step}",
                f"{rally.BOOTH_CODE_PREFIX}{step}.{mac}",
                f"{rally.BOOTH_CODE_PREFIX}{mac}",
                self._code(booth, step, mac) + ".",
                self._code(booth, step, mac) + "." + mac,
                self._code(f"{booth}.{step}", step, mac),
            ]
        )

    def _prefix(self) -> str:
        code = self.genuine()[len(rally.BOOTH_CODE_PREFIX) :]
        prefix = self.rng.choice(["", "B2.", "b1.", "B1", "B1:", "T1.", "B1..", "\uff22\uff11."])
        return prefix + code

    def _ticket_as_code(self) -> str:
        return TICKET_PREFIX + "".join(self.rng.choices(B32, k=SYMBOLS))

    def _garbage(self) -> str:
        n = self.rng.randrange(0, 201)
        if self.rng.random() < 0.5:
            return "".join(self.rng.choices(string.printable, k=n))
        return rally.BOOTH_CODE_PREFIX + "".join(self.rng.choices(self.B64 + ".", k=n))

    def _replayed_late(self) -> str:
        """A genuine code presented 2.5 minutes to four months after it was made."""
        booth = self.rng.choice(self.booths)
        return rally.booth_code(
            self.key, self.event, booth, self.now - self.rng.randint(150, 10**7)
        )

    def _from_the_future(self) -> str:
        """A genuine code of a window 10 minutes or more ahead (a stolen key aside, only a
        device with a wrong clock could have one)."""
        booth = self.rng.choice(self.booths)
        return rally.booth_code(
            self.key, self.event, booth, self.now + self.rng.randint(600, 10**7)
        )


# -- fixtures ---------------------------------------------------------------------------
@dataclass
class World:
    active: SigningKey
    retired: SigningKey
    stranger: SigningKey
    public: dict[bytes, Ed25519PublicKey]
    genuine: list[str]

    def forger(self, seed: int) -> Forger:
        return Forger(
            SLUG,
            self.genuine,
            signer=self.active,
            other=self.retired,
            stranger=self.stranger,
            seed=seed,
        )


@pytest.fixture(scope="module")
def world() -> World:
    """Two published keys (the active one and a retired one that still verifies), a key
    nobody published, and 32 genuine tickets of the event signed by the published two."""
    active, retired = signing_key(1), signing_key(2, active=False)
    rng = random.Random(3)
    genuine = [
        sign_ticket(active if i % 2 else retired, uuid.UUID(bytes=rng.randbytes(16)), SLUG)
        for i in range(32)
    ]
    return World(active, retired, signing_key(4), published(active, retired), genuine)


# -- tickets ----------------------------------------------------------------------------
def test_a_sample_of_forged_tickets_of_every_class_is_refused(world: World) -> None:
    tally = run(
        "tickets (sample)",
        world.forger(seed=10).stream(TICKET_SAMPLE),
        gate_verdict(world.public, SLUG),
    )
    print("\n" + tally.report())
    assert set(tally.sent) == set(Forger.CLASSES)
    tally.assert_clean()
    assert tally.answers["wrong_event"] == tally.sent["other_event"]


@pytest.mark.soak
@pytest.mark.timeout(3600)
def test_a_million_forged_tickets_are_refused(world: World) -> None:
    tally = run(
        "tickets (soak)", world.forger(seed=20).stream(SOAK), gate_verdict(world.public, SLUG)
    )
    print("\n" + tally.report())
    assert tally.total == SOAK
    tally.assert_clean()


def test_every_single_bit_flip_and_symbol_substitution_of_a_ticket_is_refused(
    world: World,
) -> None:
    """Exhaustive for one ticket: all 712 bit flips of its bytes, all 1,168 bit flips of
    its text's characters, all 4,433 substitutions of one base32 symbol. A text mutation
    that only respells the same bytes (the last symbol's 3 unused bits) is no forgery: it
    must name the same ticket or be refused."""
    verdict = gate_verdict(world.public, SLUG)
    genuine = world.genuine[0]
    raw = raw_of(genuine)
    forged: list[Forged] = []
    for i in range(TOKEN_BYTES * 8):
        flipped = bytearray(raw)
        flipped[i // 8] ^= 0x80 >> (i % 8)
        forged.append(Forged("raw_bit_flip", spell(bytes(flipped)), "invalid_signature"))
    char_flips = [
        genuine[:i] + chr(ord(genuine[i]) ^ (1 << bit)) + genuine[i + 1 :]
        for i in range(len(genuine))
        for bit in range(8)
    ]
    substitutions = [
        genuine[:i] + symbol + genuine[i + 1 :]
        for i in range(len(TICKET_PREFIX), len(genuine))
        for symbol in B32
        if symbol != genuine[i]
    ]
    respelled = [t for t in char_flips + substitutions if spelled_bytes(t) == raw]
    forged += [
        Forged(kind, t, "invalid_signature")
        for kind, texts in (("char_bit_flip", char_flips), ("symbol_substitution", substitutions))
        for t in texts
        if spelled_bytes(t) != raw
    ]
    tally = run("tickets (every single mutation of one)", forged, verdict)
    print("\n" + tally.report())
    print(f"  respellings of the same bytes (not forgeries): {len(respelled)}")
    assert tally.total == 712 + 146 * 8 + 143 * 31 - len(respelled)
    tally.assert_clean()
    # The classifier is right: the 7 other values of the last symbol's unused bits (and
    # the character bit flips that land on one of them) are the only respellings.
    assert all(t[:-1] == genuine[:-1] for t in respelled)
    assert sum(1 for t in substitutions if t in respelled) == 7
    for text in respelled:  # refused: a ticket has one spelling
        assert verdict(text) == ("invalid_signature", "encoding"), text


def test_respellings_of_a_genuine_ticket_name_that_ticket_or_are_refused(world: World) -> None:
    """Not forgeries (the same signed bytes), but a QR text is one ticket's only if it is
    spelled as the issuer spells it: surrounding whitespace is forgiven (a scanner app may
    add a newline), padding and other values of the unused bits are refused, so one ticket
    never has several texts. A respelling never names another ticket, and nothing but
    ``InvalidTicket`` is raised."""
    genuine = world.genuine[5]
    claims = security.verify_ticket(genuine, world.public)
    payload = genuine[len(TICKET_PREFIX) :]
    last = [payload[:-1] + c for c in B32 if c != payload[-1] and symbol_alias(payload[-1], c)]
    respellings = [
        genuine + "=",
        *(genuine + "=" * k for k in range(2, 10)),
        genuine + "\n",
        genuine + "\r\n",
        genuine + " \t",
        TICKET_PREFIX + " " + payload,
        TICKET_PREFIX + "\n" + payload + "\n",
        *(TICKET_PREFIX + p for p in last),
        *(TICKET_PREFIX + p + "=" for p in last),
        *(TICKET_PREFIX + p + "=\n" for p in last),
    ]
    accepted = []
    for text in respellings:
        assert spelled_bytes(text) == raw_of(genuine), text
        try:
            seen = security.verify_ticket(text, world.public)
        except InvalidTicket:
            continue
        assert seen == claims, text
        accepted.append(text)
    assert accepted == respellings[9:14]  # the five with whitespace around, no others
    assert all(
        t.strip() == genuine or t.replace(" ", "").replace("\n", "") == genuine for t in accepted
    )


def test_tickets_of_another_event_pass_the_signature_and_are_refused_by_the_event_check(
    world: World,
) -> None:
    """The verifier checks signatures only; ``TicketClaims.is_for`` is the event check
    that the gate and the booth run next (``wrong_event``)."""
    rng = random.Random(5)
    for slug in ("multicultural-fair-2028", SLUG.upper(), SLUG + " ", SLUG[:-1], "x", ""):
        text = sign_ticket(world.active, uuid.UUID(bytes=rng.randbytes(16)), slug)
        claims = security.verify_ticket(text, world.public)
        assert claims.is_for(slug) and not claims.is_for(SLUG)
        assert gate_verdict(world.public, SLUG)(text)[0] == "wrong_event"


def test_a_ticket_signed_by_a_removed_key_is_refused(world: World) -> None:
    """After an organizer removes a retired key, its tickets no longer verify."""
    only_active = published(world.active)
    signed_by_retired = world.genuine[0]  # even indexes: the retired key
    assert gate_verdict(world.public, SLUG)(signed_by_retired)[0] == "accepted"
    assert gate_verdict(only_active, SLUG)(signed_by_retired) == (
        "invalid_signature",
        "unknown key",
    )


@pytest.mark.parametrize("value", [None, b"T1.AAAA", 42, ["T1."], {"qr": 1}])
def test_a_value_that_is_not_text_is_refused_cleanly(world: World, value: Any) -> None:
    with pytest.raises(InvalidTicket):
        security.verify_ticket(value, world.public)


# -- controls: the harness can fail -----------------------------------------------------
def test_control_genuine_tickets_through_the_same_harness_are_accepted(world: World) -> None:
    """The same harness and verdict accept every genuine ticket: "zero accepted" above
    is not a harness that accepts nothing."""
    items = [Forged("genuine", t, "invalid_signature") for t in world.genuine]
    tally = run("genuine tickets", items, gate_verdict(world.public, SLUG))
    assert tally.accepted == len(world.genuine) == 32
    with pytest.raises(AssertionError, match="32 accepted"):
        tally.assert_clean()


def test_control_a_verifier_that_skips_the_signature_is_caught(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A verifier that checks the format and the key id but not the signature: the
    harness reports forged tickets accepted."""

    def no_signature_check(text: str, public_keys: dict[bytes, Any]) -> TicketClaims:
        raw = spelled_bytes(text)
        if raw is None or raw[0] != TICKET_VERSION or raw[1:5] not in public_keys:
            raise InvalidTicket("format")
        return TicketClaims(uuid.UUID(bytes=raw[5:21]), raw[1:5], raw[21:25])

    monkeypatch.setattr(security, "verify_ticket", no_signature_check)
    tally = run(
        "weak verifier", world.forger(seed=30).stream(3_000), gate_verdict(world.public, SLUG)
    )
    with pytest.raises(AssertionError, match="accepted"):
        tally.assert_clean()
    assert tally.accepted > 300
    print(f"\ncontrol, no signature check: {tally.accepted} of {tally.total} accepted")


def test_control_a_gate_that_skips_the_event_check_is_caught(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TicketClaims, "is_for", lambda self, slug: True)
    kinds = list(Forger.CLASSES)
    items = [f for f in world.forger(seed=40).stream(len(kinds) * 20) if f.kind == "other_event"]
    tally = run("no event check", items, gate_verdict(world.public, SLUG))
    assert tally.accepted == len(items) == 20


# -- booth codes ------------------------------------------------------------------------
def booth_forger(seed: int) -> BoothForger:
    return BoothForger(BOOTH_SECRET, SLUG, BOOTHS, NOW, seed=seed)


def test_a_sample_of_forged_replayed_and_misdirected_booth_codes_is_refused() -> None:
    tally = run(
        "booth codes (sample)",
        booth_forger(seed=50).stream(BOOTH_SAMPLE),
        booth_verdict(BOOTH_SECRET, SLUG, NOW),
    )
    print("\n" + tally.report())
    assert set(tally.sent) == set(BoothForger.CLASSES)
    tally.assert_clean()


@pytest.mark.soak
@pytest.mark.timeout(3600)
def test_a_million_forged_booth_codes_are_refused() -> None:
    tally = run(
        "booth codes (soak)",
        booth_forger(seed=60).stream(SOAK),
        booth_verdict(BOOTH_SECRET, SLUG, NOW),
    )
    print("\n" + tally.report())
    assert tally.total == SOAK
    tally.assert_clean()


def test_every_single_bit_flip_of_a_booth_codes_mac_is_refused() -> None:
    forger = booth_forger(seed=70)
    verdict = booth_verdict(BOOTH_SECRET, SLUG, NOW)
    booth, step, mac = forger._parts()
    raw = forger._mac_bytes(mac)
    items = []
    for i in range(128):
        flipped = bytearray(raw)
        flipped[i // 8] ^= 0x80 >> (i % 8)
        items.append(
            Forged(
                "mac_bit", forger._code(booth, step, forger._mac_text(bytes(flipped))), "invalid"
            )
        )
    tally = run("booth code MAC bit flips", items, verdict)
    tally.assert_clean()
    assert tally.total == 128


def test_a_genuine_booth_code_is_accepted_for_its_two_minutes_then_refused() -> None:
    """Replay inside the window is by design (the tablet shows one code to every visitor
    at the booth; one stamp per ticket and booth is the database's rule); after it, the
    same code is ``expired``."""
    code = rally.booth_code(BOOTH_SECRET, SLUG, "vn", NOW)
    made = int(NOW) // rally.BOOTH_CODE_STEP * rally.BOOTH_CODE_STEP
    for later in (0, 60, made + rally.BOOTH_CODE_LIFETIME - 1 - NOW):
        assert booth_verdict(BOOTH_SECRET, SLUG, NOW + later)(code) == ("accepted", "vn")
    for later in (made + rally.BOOTH_CODE_LIFETIME - NOW, 3_600, 86_400 * 365):
        assert booth_verdict(BOOTH_SECRET, SLUG, NOW + later)(code)[0] == "expired"
    assert booth_verdict(BOOTH_SECRET, SLUG, made - rally.BOOTH_CODE_STEP - 1)(code)[0] == (
        "expired"
    )


def test_respellings_of_a_genuine_booth_code_name_that_booth_or_are_refused() -> None:
    """Other spellings of the same (booth, step, MAC) — the step with a sign, leading
    zeros, digit separators, spaces or other digits; the MAC with padding, the standard
    base64 alphabet or the last symbol's unused bits — are no forgeries; they must name
    the same booth or be refused. Printed: how many are accepted today."""
    forger = booth_forger(seed=80)
    verdict = booth_verdict(BOOTH_SECRET, SLUG, NOW)
    booth, step, mac = "np", *rally.booth_code(BOOTH_SECRET, SLUG, "np", NOW).rsplit(".", 2)[1:]
    unused = [
        mac[:-1] + c
        for c in forger.B64
        if c != mac[-1] and forger.B64.index(c) >> 4 == forger.B64.index(mac[-1]) >> 4
    ]
    spellings = [
        forger._code(booth, "+" + step, mac),
        forger._code(booth, "0" + step, mac),
        forger._code(booth, step[:3] + "_" + step[3:], mac),
        forger._code(booth, " " + step + " ", mac),
        forger._code(booth, "".join(chr(0x660 + int(d)) for d in step), mac),  # Arabic-Indic
        forger._code(booth, "".join(chr(0xFF10 + int(d)) for d in step), mac),  # full width
        forger._code(booth, step, mac + "=="),
        forger._code(booth, step, mac.replace("-", "+").replace("_", "/")),
        *(forger._code(booth, step, m) for m in unused),
    ]
    accepted = 0
    for code in spellings:
        answer, detail = verdict(code)
        assert answer in ("accepted", "invalid"), code
        if answer == "accepted":
            assert detail == booth, code
            accepted += 1
    print(f"\nrespellings of one booth code: {len(spellings)}, accepted as that booth: {accepted}")


@pytest.mark.parametrize("step", ["-1", "-9999999999", str(2**64), "9" * 40])
def test_a_booth_code_with_an_out_of_range_step_is_refused_cleanly(step: str) -> None:
    """A step that is a number but no 64-bit unsigned one is as forged as any other; it
    must be ``InvalidBoothCode("invalid")`` (answered ``invalid_code``), not another
    exception (which the self-stamp route would answer with a 500)."""
    code = f"{rally.BOOTH_CODE_PREFIX}vn.{step}.{'A' * 22}"
    with pytest.raises(rally.InvalidBoothCode) as refused:
        rally.check_booth_code(BOOTH_SECRET, SLUG, code, NOW)
    assert refused.value.reason == "invalid"


def test_control_genuine_booth_codes_through_the_same_harness_are_accepted() -> None:
    forger = booth_forger(seed=90)
    items = [Forged("genuine", forger.genuine(), "invalid") for _ in range(200)]
    tally = run("genuine booth codes", items, booth_verdict(BOOTH_SECRET, SLUG, NOW))
    assert tally.accepted == 200
    with pytest.raises(AssertionError, match="200 accepted"):
        tally.assert_clean()


def test_control_a_booth_check_without_the_mac_or_the_clock_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two weakened checks, each caught: one that compares no MAC (forged codes
    accepted), one whose codes never expire (replayed codes accepted)."""
    items = list(booth_forger(seed=100).stream(len(BoothForger.CLASSES) * 50))
    verdict = booth_verdict(BOOTH_SECRET, SLUG, NOW)
    with monkeypatch.context() as m:
        m.setattr(
            rally, "hmac", types.SimpleNamespace(new=hmac.new, compare_digest=lambda a, b: True)
        )
        no_mac = run("no MAC check", items, verdict)
    with monkeypatch.context() as m:
        m.setattr(rally, "BOOTH_CODE_LIFETIME", 10**9)
        no_clock = run("no expiry", items, verdict)
    assert no_mac.accepted > 100
    replayed = [f for f in items if f.kind == "replayed_late"]
    assert no_clock.accepted == len(replayed) == 50
    for tally in (no_mac, no_clock):
        with pytest.raises(AssertionError, match="accepted"):
            tally.assert_clean()
