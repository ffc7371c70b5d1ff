"""Fingerprints: a versioned SHA-256 over the canonical JSON of a whole definition."""

from __future__ import annotations

import hashlib
from typing import Any

from mcpguard.pinning.canonical import canonical_bytes

PREFIX = "v1:sha256:"
"""Names the recipe, so a later change of algorithm cannot be mistaken for a changed definition."""


def fingerprint(definition: Any) -> str:
    """Fingerprint a tool, prompt, template, serverInfo, instructions text or command line.

    The whole object is covered, unknown fields included: a field a later protocol revision adds
    (or a server invents) is text the model may read, so it must not change silently.
    """
    return PREFIX + hashlib.sha256(canonical_bytes(definition)).hexdigest()


def short(fp: str) -> str:
    """A 12-hex-digit form for tables; the full value stays in ``--json`` output."""
    return fp.removeprefix(PREFIX)[:12]
