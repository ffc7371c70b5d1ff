"""JSON-RPC 2.0 over newline-delimited stdio: framing, parsing and the few messages mcpguard writes.

The relay parses every line to decide, but forwards the original bytes whenever nothing changes,
so unknown fields, key order and number spelling reach the peer exactly as sent.
"""

from __future__ import annotations

import json
import re  # json imports it anyway

from mcpguard.values import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    from typing import Any, Final, TypeAlias

DEFAULT_MAX_LINE = 256 * 1024 * 1024
"""Larger lines are refused with an error instead of exhausting memory."""

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603


if TYPE_CHECKING:
    Line: TypeAlias = bytes | bytearray
    """A complete line without its newline; the relay hands it on without copying."""

HEAD_BYTES = 4096


class Oversized(Value):
    """A line longer than the limit was discarded; ``size`` is how many bytes it had."""

    __slots__ = ("size", "head")

    size: Final[int]
    head: Final[bytes]
    """Its first bytes, enough to find the id of a request or answer in the usual case."""

    def __init__(self, size: int, head: bytes = b"") -> None:
        self.size = size
        self.head = head

    def message_id(self) -> Any:
        """The top-level ``id`` when it appears in :attr:`head` (it usually comes first), else None."""
        match = _id_in_head().search(self.head)
        if match is None:
            return None
        try:
            return json.loads(match.group(1))
        except ValueError:
            return None


_id_pattern: re.Pattern[bytes] | None = None


def _id_in_head() -> re.Pattern[bytes]:
    """The pattern for an id near the start of a line, compiled the first time a line is too long."""
    global _id_pattern
    if _id_pattern is None:
        _id_pattern = re.compile(
            rb'^\s*\{(?:\s*"(?:jsonrpc|method)"\s*:\s*"[^"\\]*"\s*,)*'  # "jsonrpc" and "method" may come first
            rb'\s*"id"\s*:\s*(-?\d+|"[^"\\]*")'
        )
    return _id_pattern


class LineBuffer:
    """Splits a byte stream into lines of any length up to ``max_line``.

    asyncio's and many relays' 64 KiB line limit kills a server's large answer; here a line may be
    as long as the limit, and a longer one is dropped whole (reported as :class:`Oversized`, with its
    first bytes so its id can still be answered) and the stream resynchronises on the next newline.
    A line grows in one bytearray that is handed on as it is: a 64 MiB message is held once, not
    once per chunk and again joined.
    """

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        self.max_line = max_line
        self._buf = bytearray()
        self._discarding = False
        self._discarded = 0
        self._head = b""

    def feed(self, data: bytes) -> list[Line | Oversized]:
        """Add bytes read from the stream; return the lines completed by them."""
        out: list[Line | Oversized] = []
        start = 0
        while True:
            nl = data.find(b"\n", start)
            if nl < 0:
                self._append(data, start, len(data))
                return out
            if not self._buf and not self._discarding and nl - start <= self.max_line:
                # The usual case, a whole line inside one read: one slice, no bytearray to grow.
                end = nl - 1 if nl > start and data[nl - 1] == 0x0D else nl
                out.append(data[start:end])
            else:
                self._append(data, start, nl)
                out.append(self._take())
            start = nl + 1

    def _append(self, data: bytes, start: int, end: int) -> None:
        size = end - start
        if size <= 0:
            return
        if self._discarding:
            self._discarded += size
            return
        if len(self._buf) + size > self.max_line:
            self._discarding = True
            self._discarded = len(self._buf) + size
            head = bytes(self._buf[:HEAD_BYTES])
            self._head = head + data[start : min(end, start + HEAD_BYTES - len(head))]
            self._buf = bytearray()
            return
        self._buf += memoryview(data)[start:end]

    def _take(self) -> Line | Oversized:
        if self._discarding:
            oversized = Oversized(self._discarded, self._head)
            self._discarding = False
            self._discarded = 0
            self._head = b""
            return oversized
        line = self._buf
        self._buf = bytearray()
        if line.endswith(b"\r"):
            del line[-1:]
        return line

    @property
    def pending(self) -> int:
        """Bytes of an unfinished line (at EOF, a last line without a newline)."""
        return len(self._buf)

    def flush(self) -> Line | Oversized | None:
        """The unterminated rest at EOF, if any."""
        if self._discarding or self._buf:
            return self._take()
        return None


_decode = json.JSONDecoder().decode


def parse(data: Line | str) -> Any:
    """``json.loads(data)``, without its encoding detection for the usual line.

    A line that starts with ``{`` followed by a non-zero byte is UTF-8 by ``json``'s own rules
    (``json.detect_encoding``), so it is decoded directly; anything else goes to ``json.loads``.
    """
    if isinstance(data, str):
        return _decode(data) if not data.startswith("\ufeff") else json.loads(data)
    if data[:1] == b"{" and data[1:2] != b"\x00":
        return _decode(data.decode("utf-8", "surrogatepass"))
    return json.loads(data)


def is_blank(line: Line) -> bool:
    """An empty or all-white-space line (skipped); cheap on a huge line, which fails at its first byte."""
    return not line or line.isspace()


def encode(message: Any) -> bytes:
    """One message as a line, without the newline; UTF-8 kept as is, no padding."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def id_key(msg_id: Any) -> tuple[str, Any]:
    """A dictionary key for a JSON-RPC id that keeps ``1`` and ``"1"`` apart."""
    return ("s", msg_id) if isinstance(msg_id, str) else ("n", msg_id)


def is_request(message: Any) -> bool:
    return isinstance(message, dict) and isinstance(message.get("method"), str) and "id" in message


def is_notification(message: Any) -> bool:
    return isinstance(message, dict) and isinstance(message.get("method"), str) and "id" not in message


def is_response(message: Any) -> bool:
    return (
        isinstance(message, dict)
        and "method" not in message
        and "id" in message
        and ("result" in message or "error" in message)
    )


def error_response(msg_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": msg_id, "error": error}


def result_response(msg_id: Any, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "result": result}


def notification(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message
