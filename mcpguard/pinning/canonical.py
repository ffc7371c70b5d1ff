"""RFC 8785 (JCS) canonical JSON, so that one definition always hashes the same way."""

from __future__ import annotations

from typing import Any

import rfc8785


def canonical_bytes(value: Any) -> bytes:
    """The JCS serialisation of ``value``.

    Key order, white space and number spelling on the wire must not change a fingerprint, while any
    change of content must. JCS gives exactly that, and is a published standard other tools can redo.

    Raises:
        ValueError: ``value`` holds something JSON cannot express canonically (NaN, huge integers).
    """
    try:
        return bytes(rfc8785.dumps(value))
    except rfc8785.CanonicalizationError as exc:
        raise ValueError(f"cannot canonicalise this JSON value: {exc}") from exc
