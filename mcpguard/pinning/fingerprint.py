"""Fingerprints: a versioned SHA-256 over the canonical JSON of a whole definition."""

from __future__ import annotations

from mcpguard.pinning.canonical import canonical_bytes

# CPython's built-in SHA-256: hashlib would load OpenSSL (5 ms) on every shim start, for one hash.
try:
    from _sha256 import sha256  # type: ignore[import-not-found]  # Python 3.11; no stub
except ImportError:  # pragma: no cover - other versions and implementations
    try:
        from _sha2 import sha256  # type: ignore[import-not-found]  # its name from Python 3.12 on
    except ImportError:
        from hashlib import sha256

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    from typing import Any

PREFIX = "v1:sha256:"
"""Names the recipe, so a later change of algorithm cannot be mistaken for a changed definition."""


def fingerprint(definition: Any) -> str:
    """Fingerprint a tool, prompt, template, serverInfo, instructions text or command line.

    The whole object is covered, unknown fields included: a field a later protocol revision adds
    (or a server invents) is text the model may read, so it must not change silently.
    """
    return fingerprint_canonical(canonical_bytes(definition))


def fingerprint_canonical(canonical: bytes) -> str:
    """:func:`fingerprint` of a definition whose canonical bytes are already at hand (the store keeps them)."""
    return PREFIX + str(sha256(canonical).hexdigest())


def short(fp: str) -> str:
    """A 12-hex-digit form for tables; the full value stays in ``--json`` output."""
    return fp.removeprefix(PREFIX)[:12]
