"""Server-Sent Events, decoded line by line as the HTML standard describes, with ids kept for resumption.

A Streamable HTTP server answers a POST with an SSE stream and may keep a GET stream open; both
carry one JSON-RPC message per event. The decoder is fed whatever chunks the socket gives (lines
may end in CR, LF or CRLF, split anywhere, even between the CR and the LF), keeps the
``Last-Event-ID`` the client must send to resume and the ``retry`` delay it must respect, and
bounds the size of one event: a larger one becomes an :class:`~mcpguard.proxy.jsonrpc.Oversized`
marker, which the pipeline answers with an error instead of the transport holding it in memory.
It is written here rather than taken from a library so that the bytes of ``data`` reach the
pipeline untouched (no decode and re-encode) and the size limit is ours.
"""

from __future__ import annotations

import re

from mcpguard.proxy.jsonrpc import HEAD_BYTES, Oversized

_EOL = re.compile(rb"[\r\n]")
_BOM = b"\xef\xbb\xbf"


class Event:
    """One dispatched event: its type, its data (lines joined by LF) and the last event id at that point."""

    __slots__ = ("event", "data", "id")

    def __init__(self, event: str, data: bytes | bytearray, id: str) -> None:
        self.event = event
        self.data = data
        self.id = id
        """The stream's last event id once this event was dispatched ("" when none was ever given)."""

    def __repr__(self) -> str:
        return f"Event(event={self.event!r}, id={self.id!r}, data={bytes(self.data[:60])!r})"


class SSEDecoder:
    """Turns the bytes of one ``text/event-stream`` body into events.

    Args:
        max_event: The largest ``data`` an event may carry; a larger event is reported as
            :class:`Oversized` (with its first bytes, where a JSON-RPC id usually is).
    """

    def __init__(self, max_event: int) -> None:
        self.max_event = max_event
        self.last_event_id = ""
        """What ``Last-Event-ID`` must say to resume after the events decoded so far."""
        self.retry: int | None = None
        """The reconnection delay in milliseconds the server asked for, if it did."""
        self._id_buffer = ""
        self._event_type = ""
        self._data: list[bytes | bytearray] = []
        self._size = 0
        self._line = bytearray()
        self._skip_lf = False
        self._started = False
        self._bom = b""
        self._oversized = False
        self._skip_line = False
        self._head = b""

    def feed(self, chunk: bytes) -> list[Event | Oversized]:
        """Decode a chunk; returns the events it completed, in order."""
        out: list[Event | Oversized] = []
        start, end = 0, len(chunk)
        if not end:
            return out
        if not self._started:  # a byte order mark may open the stream, even split across chunks
            self._bom += chunk
            if len(self._bom) < len(_BOM) and _BOM.startswith(self._bom):
                return out
            self._started = True
            chunk, self._bom = self._bom, b""
            end = len(chunk)
            if chunk.startswith(_BOM):
                start = len(_BOM)
        if self._skip_lf:
            self._skip_lf = False
            if chunk[start : start + 1] == b"\n":
                start += 1
        while start < end:
            match = _EOL.search(chunk, start)
            if match is None:
                self._partial(chunk, start, end)
                break
            stop = match.start()
            if chunk[stop] == 0x0D:  # CR: a CRLF pair, or a bare CR whose LF may open the next chunk
                if stop + 1 < end:
                    after = stop + 2 if chunk[stop + 1] == 0x0A else stop + 1
                else:
                    after = stop + 1
                    self._skip_lf = True
            else:
                after = stop + 1
            line = self._complete(chunk, start, stop)
            if line is not None:
                self._process(line, out)
            start = after
        return out

    # -- lines -------------------------------------------------------------------------------------

    def _partial(self, chunk: bytes, start: int, end: int) -> None:
        """Keep the unfinished end of a chunk; once a line would exceed the limit, keep only its head."""
        size = end - start
        if self._skip_line:
            self._size += size
            return
        if self._size + len(self._line) + size > self.max_event + 8:  # 8: room for the "data: " prefix
            self._start_oversized(bytes(self._line) + chunk[start : start + HEAD_BYTES])
            self._size += len(self._line) + size
            self._line = bytearray()
            self._skip_line = True
            return
        self._line += memoryview(chunk)[start:end]

    def _complete(self, chunk: bytes, start: int, stop: int) -> bytes | bytearray | None:
        """The line that ends at ``stop``, or None when it was too long and has been dropped."""
        if self._skip_line:
            self._skip_line = False
            self._size += stop - start
            return None
        if not self._line:
            return chunk[start:stop]
        self._line += memoryview(chunk)[start:stop]
        line, self._line = self._line, bytearray()
        return line

    def _process(self, line: bytes | bytearray, out: list[Event | Oversized]) -> None:
        if not line:
            self._dispatch(out)
            return
        if line[:1] == b":":
            return  # a comment: servers send them as keep-alives
        colon = line.find(b":")
        value: bytes | bytearray
        if colon < 0:
            name, value = bytes(line), b""
        else:
            name = bytes(line[:colon])
            value = line[colon + 2 :] if line[colon + 1 : colon + 2] == b" " else line[colon + 1 :]
        if name == b"data":
            self._add_data(value)
        elif name == b"event":
            self._event_type = bytes(value).decode("utf-8", "replace")
        elif name == b"id":
            if b"\x00" not in value:
                self._id_buffer = bytes(value).decode("utf-8", "replace")
        elif name == b"retry":
            if value and bytes(value).isdigit():
                self.retry = int(value)
        # any other field is ignored, as the standard says

    def _add_data(self, value: bytes | bytearray) -> None:
        self._size += len(value) + (1 if self._data or self._oversized else 0)
        if self._oversized:
            return
        if self._size > self.max_event:
            head = b"\n".join(bytes(part[:HEAD_BYTES]) for part in self._data)
            self._start_oversized((head + b"\n" if head else b"") + bytes(value[:HEAD_BYTES]))
            return
        self._data.append(value)

    def _start_oversized(self, head: bytes) -> None:
        if not self._oversized:
            self._oversized = True
            self._head = _strip_field(head)[:HEAD_BYTES]
            self._size += sum(len(part) for part in self._data)
            self._data = []

    def _dispatch(self, out: list[Event | Oversized]) -> None:
        """A blank line: the event is complete (or, without data, only its id and type are taken)."""
        self.last_event_id = self._id_buffer
        if self._oversized:
            out.append(Oversized(self._size, self._head))
        elif self._data:
            data = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
            out.append(Event(self._event_type or "message", data, self.last_event_id))
        self._data = []
        self._event_type = ""
        self._size = 0
        self._oversized = False
        self._head = b""


def _strip_field(head: bytes) -> bytes:
    """The head of an oversized event without a leading ``data:`` field name, so its JSON-RPC id can be found."""
    if head.startswith(b"data:"):
        head = head[5:]
        if head.startswith(b" "):
            head = head[1:]
    return head
