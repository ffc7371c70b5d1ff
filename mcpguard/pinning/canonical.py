"""RFC 8785 (JCS) canonical JSON, so that one definition always hashes the same way.

For most of what servers send, the standard library's C encoder already writes JCS byte for byte:
strings are escaped alike (``\\"``, ``\\\\``, ``\\b \\f \\n \\r \\t``, other controls as lower-case
``\\u00xx``, everything else as UTF-8), integers within ±(2^53 - 1) are plain decimals, and keys sort
the same when they are ASCII (JCS sorts by UTF-16 code units, Python by code points; the two orders
differ only between U+E000–U+FFFF and characters beyond U+FFFF). :func:`canonical_bytes` therefore
uses ``json`` when a value holds nothing else, and the ``rfc8785`` library for the rest: floats,
larger integers, non-ASCII keys, lone surrogates and any other type. ``rfc8785`` is pure Python and
imports ``typing`` (about 5 ms, paid by every shim start for its command-line pin); ``json`` is also
several times faster on a tools listing. ``tests/pinning/test_fingerprint.py`` checks that both
paths agree.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    from typing import Any

_SAFE_INTEGER = 2**53 - 1
"""JCS numbers are IEEE doubles: larger integers are refused by ``rfc8785``."""

_encode = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False, check_circular=False
).encode


def _encoded_alike(value: Any) -> bool:
    """True when ``json`` writes every part of ``value`` exactly as JCS does (see the module's docstring)."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-_SAFE_INTEGER <= value <= _SAFE_INTEGER)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not key.isascii() or not _encoded_alike(item):
                return False
        return True
    if kind is list:
        for item in value:
            if not _encoded_alike(item):
                return False
        return True
    return False


def canonical_bytes(value: Any) -> bytes:
    """The JCS serialisation of ``value``.

    Key order, white space and number spelling on the wire must not change a fingerprint, while any
    change of content must. JCS gives exactly that, and is a published standard other tools can redo.

    Raises:
        ValueError: ``value`` holds something JSON cannot express canonically (NaN, huge integers).
    """
    try:
        if _encoded_alike(value):
            return _encode(value).encode("utf-8")
    except (RecursionError, UnicodeEncodeError):
        pass  # very deep nesting, or a lone surrogate: let rfc8785 decide (and word the error)
    import rfc8785

    try:
        return bytes(rfc8785.dumps(value))
    except rfc8785.CanonicalizationError as exc:
        raise ValueError(f"cannot canonicalise this JSON value: {exc}") from exc
