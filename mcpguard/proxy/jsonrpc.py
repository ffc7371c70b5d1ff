"""JSON-RPC 2.0 over newline-delimited stdio: framing, parsing and the few messages mcpguard writes.

The relay parses every line to decide, but forwards the original bytes whenever nothing changes,
so unknown fields, key order and number spelling reach the peer exactly as sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

DEFAULT_MAX_LINE = 256 * 1024 * 1024
"""Larger lines are refused with an error instead of exhausting memory."""

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603


@dataclass(frozen=True)
class Oversized:
    """A line longer than the limit was discarded; ``size`` is how many bytes it had."""

    size: int


class LineBuffer:
    """Splits a byte stream into lines of any length up to ``max_line``.

    asyncio's and many relays' 64 KiB line limit kills a server's large answer; here a line may be
    as long as the limit, and a longer one is dropped whole (reported as :class:`Oversized`) so the
    stream resynchronises on the next newline.
    """

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        self.max_line = max_line
        self._parts: list[bytes] = []
        self._size = 0
        self._discarding = False
        self._discarded = 0

    def feed(self, data: bytes) -> list[bytes | Oversized]:
        """Add bytes read from the stream; return the lines completed by them."""
        out: list[bytes | Oversized] = []
        start = 0
        while True:
            nl = data.find(b"\n", start)
            if nl < 0:
                self._append(data[start:] if start else data)
                return out
            self._append(data[start:nl])
            out.append(self._take())
            start = nl + 1

    def _append(self, piece: bytes) -> None:
        if not piece:
            return
        if self._discarding:
            self._discarded += len(piece)
            return
        if self._size + len(piece) > self.max_line:
            self._discarding = True
            self._discarded = self._size + len(piece)
            self._parts.clear()
            self._size = 0
            return
        self._parts.append(piece)
        self._size += len(piece)

    def _take(self) -> bytes | Oversized:
        if self._discarding:
            size = self._discarded
            self._discarding = False
            self._discarded = 0
            return Oversized(size)
        parts = self._parts
        line = parts[0] if len(parts) == 1 else b"".join(parts)
        self._parts = []
        self._size = 0
        return line[:-1] if line.endswith(b"\r") else line

    @property
    def pending(self) -> int:
        """Bytes of an unfinished line (at EOF, a last line without a newline)."""
        return self._size

    def flush(self) -> bytes | Oversized | None:
        """The unterminated rest at EOF, if any."""
        if self._discarding or self._parts:
            return self._take()
        return None


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
