"""A write queue in front of a descriptor, so that the single-threaded relay never waits for a reader.

The shim relays both directions from one thread (see :mod:`mcpguard.proxy.shim`). A blocking write
there could deadlock: the shim waits for the server to read its input while the server waits for
the shim to read its output. Each side's writes therefore go through an :class:`Outbox`: whatever
the descriptor takes at once is written, the rest is queued and written when ``poll`` says the
descriptor is writable again. Standard library only: this is on the shim's start-up path.
"""

from __future__ import annotations

import os
from collections import deque

SMALL = 1 << 16
"""Messages under this size are joined into one write; larger ones are queued as they are, never copied."""

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    from collections.abc import Iterable


class Outbox:
    """Messages on their way to one descriptor, each followed by a newline.

    The descriptor should be non-blocking (:meth:`make_non_blocking`); a blocking one (a terminal,
    a file) works too, its writes simply wait.
    """

    __slots__ = ("fd", "size", "closed", "_chunks")

    def __init__(self, fd: int | None) -> None:
        self.fd = fd
        self.size = 0
        """Bytes queued and not yet written."""
        self.closed = fd is None
        """The reader has gone (or there never was a descriptor): messages are dropped."""
        self._chunks: deque[bytes | bytearray | memoryview] = deque()

    @property
    def pending(self) -> bool:
        return bool(self._chunks)

    def send(self, messages: Iterable[bytes | bytearray]) -> bool:
        """Queue messages and write what the descriptor takes now; False when the reader has gone."""
        if self.closed:
            return False
        batch: list[bytes | bytearray] = []
        chunks = self._chunks
        for data in messages:
            if len(data) < SMALL:
                batch += (data, b"\n")
                continue
            if batch:
                chunks.append(b"".join(batch))
                batch = []
            chunks.append(data)
            chunks.append(b"\n")
            self.size += len(data) + 1
        if batch:
            joined = b"".join(batch)
            chunks.append(joined)
            self.size += len(joined)
        return self.flush()

    def flush(self) -> bool:
        """Write queued bytes until the descriptor would block; False when the reader has gone."""
        chunks = self._chunks
        fd = self.fd
        while chunks:
            chunk = chunks[0]
            try:
                written = os.write(fd, chunk)  # type: ignore[arg-type]  # None only when closed
            except BlockingIOError:
                return True
            except (OSError, ValueError):
                self.close()
                return False
            self.size -= written
            if written < len(chunk):
                chunks[0] = memoryview(chunk)[written:]
                return True  # the pipe is full: poll says when it drains
            chunks.popleft()
        return True

    def close(self) -> None:
        """Drop what is queued and every later message."""
        self.closed = True
        self._chunks.clear()
        self.size = 0


def make_non_blocking(fd: int) -> bool:
    """Make writes to a pipe or socket non-blocking; True if it was changed (to restore later).

    A terminal or a file is left alone: its file description may be shared with the user's shell.
    """
    import stat

    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)) or not os.get_blocking(fd):
        return False
    os.set_blocking(fd, False)
    return True
