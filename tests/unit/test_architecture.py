"""Dependencies point the right way: a service never imports another service, and a
domain module imports no I/O library (aiohttp, asyncpg, nats)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("registration", "checkin", "stamprally", "notify")
IO_LIBRARIES = (
    "aiohttp",
    "asyncpg",
    "nats",
    "aiosmtplib",
    "shared.db",
    "shared.bus",
    "shared.outbox",
    "shared.consumer",
    "shared.runtime",
    "shared.http",
)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_no_service_imports_another_service() -> None:
    offences = []
    for service in SERVICES:
        for path in (ROOT / "services" / service).rglob("*.py"):
            for name in imports_of(path):
                parts = name.split(".")
                if parts[0] == "services" and len(parts) > 1 and parts[1] != service:
                    offences.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offences == []


def test_domain_modules_import_no_io_library() -> None:
    offences = []
    domains = [*ROOT.glob("services/*/domain.py"), *ROOT.glob("services/*/domain/*.py")]
    assert len(domains) >= 4
    for path in domains:
        for name in imports_of(path):
            if any(name == lib or name.startswith(lib + ".") for lib in IO_LIBRARIES):
                offences.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offences == []


def test_shared_never_imports_a_service() -> None:
    offences = [
        f"{p.relative_to(ROOT)} imports {n}"
        for p in (ROOT / "shared").rglob("*.py")
        for n in imports_of(p)
        if n.startswith("services.") and p.name != "cli.py"
    ]
    assert offences == []


def test_only_the_outbox_publishes_to_jetstream() -> None:
    offences = []
    for path in [*(ROOT / "services").rglob("*.py"), *(ROOT / "shared").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        if ("js.publish(" in text or "publish_async(" in text) and path.name != "outbox.py":
            offences.append(str(path.relative_to(ROOT)))
    assert offences == []
