"""Request headers that mirror tool arguments: ``x-mcp-header`` and ``Mcp-Param-{Name}`` (MCP 2026-07-28).

A server may mark a parameter of a tool's ``inputSchema`` with ``x-mcp-header: NAME``; a client
speaking Streamable HTTP must then send that argument of every ``tools/call`` as the header
``Mcp-Param-NAME``, so that gateways can route on it without reading the body. The spec's section
"Custom Headers from Tool Parameters" says which annotations are valid (a field-name token, unique
regardless of case, on a string, integer or boolean parameter reached through ``properties`` keys
alone) and that a tool breaking any of these rules must be left out of ``tools/list``; "Value
Encoding" says how a value becomes a header (strings as they are unless unsafe, integers in decimal,
booleans in lower case, Base64 in the ``=?base64?...?=`` sentinel for anything not plain ASCII).

Everything here is a pure function over parsed JSON, so that the transport only keeps the map of
tool name to headers and each rule can be tested alone. Nothing here changes a request's body.
"""

from __future__ import annotations

import base64
import re
from typing import Any, NamedTuple

ANNOTATION = "x-mcp-header"
HEADER_PREFIX = "Mcp-Param-"
HEADER_MISMATCH = -32020
"""JSON-RPC code of a server's ``HeaderMismatch`` error (headers missing or not matching the body)."""

SENTINEL_START = "=?base64?"
SENTINEL_END = "?="
MAX_SAFE_INTEGER = 2**53 - 1
"""Integers beyond this lose precision in a JavaScript server, so the spec allows none beyond it."""

PRIMITIVE_TYPES = frozenset({"string", "integer", "boolean"})
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
"""RFC 9110's ``1*tchar``: an HTTP field name (which has no room for CR, LF or other controls)."""
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})
"""Keywords whose value maps names to subschemas: their keys are names, never annotations."""
_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples"})
"""Keywords whose value is instance data: an ``x-mcp-header`` key in there is not an annotation."""


class ParamHeader(NamedTuple):
    """One mirrored parameter: the chain of ``properties`` keys to its value, and the full header name."""

    path: tuple[str, ...]
    header: str


class InvalidAnnotation(ValueError):
    """A tool's ``x-mcp-header`` annotations break the spec's constraints; the message says how."""


class UnmirrorableValue(ValueError):
    """An argument that must be mirrored has a value no header can carry (an object, a fraction, ...)."""


class Screened(NamedTuple):
    """What a ``tools/list`` result taught: headers per valid tool, reasons per rejected tool, the tools kept."""

    headers: dict[str, tuple[ParamHeader, ...]]
    rejected: dict[str, str]
    kept: list[Any]


def header_specs(input_schema: Any) -> tuple[ParamHeader, ...]:
    """The mirrored parameters of one tool's ``inputSchema``, checked against every constraint.

    The whole schema is searched, not only ``properties``, because an annotation anywhere else (under
    ``items``, ``anyOf``, ``if``, ``$defs``, ...) makes the tool invalid rather than merely ignored.
    The walk uses its own stack: a schema nested thousands deep must not exhaust Python's.

    Raises:
        InvalidAnnotation: An annotation is not a token, is repeated regardless of case, sits on a
            parameter that is not a string, integer or boolean, or is not statically reachable.
    """
    found: list[ParamHeader] = []
    names: dict[str, str] = {}
    stack: list[tuple[Any, tuple[str, ...], bool]] = [(input_schema, (), True)]
    while stack:
        node, pointer, static = stack.pop()
        if isinstance(node, list):
            stack.extend((item, (*pointer, str(i)), False) for i, item in enumerate(node))
            continue
        if not isinstance(node, dict):
            continue
        if ANNOTATION in node:
            found.append(_check(node, pointer, static, names))
        for key, value in node.items():
            if key == ANNOTATION or key in _DATA_KEYWORDS:
                continue
            if key in _SCHEMA_MAPS and isinstance(value, dict):
                step = static and key == "properties"
                stack.extend((sub, (*pointer, key, str(name)), step) for name, sub in value.items())
            else:
                stack.append((value, (*pointer, str(key)), False))
    found.sort()
    return tuple(found)


def _check(node: dict[str, Any], pointer: tuple[str, ...], static: bool, names: dict[str, str]) -> ParamHeader:
    where = "/" + "/".join(pointer) if pointer else "the schema root"
    name = node[ANNOTATION]
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        raise InvalidAnnotation(f"{ANNOTATION} {name!r} at {where} is not an HTTP field-name token")
    if not static or not pointer:
        raise InvalidAnnotation(
            f"{ANNOTATION} {name!r} at {where} is not on a property reached through 'properties' keys alone"
        )
    kind = node.get("type")
    if not isinstance(kind, str) or kind not in PRIMITIVE_TYPES:
        raise InvalidAnnotation(
            f"{ANNOTATION} {name!r} at {where} is on a parameter of type {kind!r}; only string, integer and "
            "boolean parameters may be mirrored"
        )
    folded = name.lower()
    if folded in names:
        raise InvalidAnnotation(f"{ANNOTATION} {name!r} at {where} repeats {names[folded]!r} (case-insensitively)")
    names[folded] = name
    return ParamHeader(pointer[1::2], HEADER_PREFIX + name)


def screen_tools(tools: list[Any]) -> Screened:
    """Check every tool of a ``tools/list`` page: learn the headers of the valid, set the invalid apart.

    A tool without a string name is kept as it is and learnt nothing of: it cannot be called by name.
    """
    headers: dict[str, tuple[ParamHeader, ...]] = {}
    rejected: dict[str, str] = {}
    kept: list[Any] = []
    for tool in tools:
        name = tool.get("name") if isinstance(tool, dict) else None
        if not isinstance(name, str):
            kept.append(tool)
            continue
        try:
            headers[name] = header_specs(tool.get("inputSchema"))
        except InvalidAnnotation as exc:
            rejected[name] = str(exc)
            headers.pop(name, None)
            continue
        rejected.pop(name, None)
        kept.append(tool)
    return Screened(headers, rejected, kept)


def encode_value(text: str) -> str:
    """``text`` as a header value: as it is when plain ASCII-safe, else in the Base64 sentinel format.

    Safe means visible ASCII, space and tab only, no space or tab at either end (a header parser
    strips those), and not itself looking like the sentinel (which would be read as encoded).
    The same rule is used for ``Mcp-Name``.
    """
    if _plain(text):
        return text
    return SENTINEL_START + base64.b64encode(text.encode("utf-8", "surrogatepass")).decode("ascii") + SENTINEL_END


def _plain(text: str) -> bool:
    if not all(" " <= c <= "~" or c == "\t" for c in text):
        return False
    if text[:1] in (" ", "\t") or text[-1:] in (" ", "\t"):
        return False
    return not (text.startswith(SENTINEL_START) and text.endswith(SENTINEL_END))


def header_value(value: Any) -> str | None:
    """One argument as a header value; None for ``null``, whose header the spec says to omit.

    Raises:
        UnmirrorableValue: An object, an array, a fraction or an integer beyond JavaScript's safe range.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_SAFE_INTEGER:
        value = int(value)  # 42.0 is the integer 42 in JSON; the server compares numerically
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise UnmirrorableValue("is an integer outside the range -(2**53-1) to 2**53-1")
        return str(value)
    if isinstance(value, str):
        return encode_value(value)
    kind = "an object" if isinstance(value, dict) else "an array" if isinstance(value, list) else "a number"
    raise UnmirrorableValue(f"is {kind} that no header can carry")


def call_headers(specs: tuple[ParamHeader, ...], arguments: Any) -> dict[str, str]:
    """The ``Mcp-Param-*`` headers of one ``tools/call``, from its ``arguments`` as they will be sent.

    A value that is absent at the exact path (or ``null``) gets no header, as the spec's table says.

    Raises:
        UnmirrorableValue: A present value no header can carry; the message names the argument.
    """
    headers: dict[str, str] = {}
    for spec in specs:
        value: Any = arguments
        for key in spec.path:
            value = value.get(key) if isinstance(value, dict) else None
            if value is None:
                break
        try:
            text = header_value(value)
        except UnmirrorableValue as exc:
            raise UnmirrorableValue(f"the argument {'.'.join(spec.path)!r} (mirrored as {spec.header}) {exc}") from None
        if text is not None:
            headers[spec.header] = text
    return headers
