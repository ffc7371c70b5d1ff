"""Relays a server's stderr line by line with its secrets replaced.

Only servers that get secrets from the keyring have their stderr piped through here: a server
that prints its configuration or a failed request's headers would otherwise show its token in the
client's log window (and in the client's log files). Every other server's stderr stays ours,
passed by the kernel at no cost.

The redactor is built in the relay thread, after the server has started, so its regular
expressions cost the server's start nothing. Output is written as it arrives, one line at a time
(a partial line waits for its end, up to :data:`MAX_PENDING` bytes, so a secret split across two
reads is still found).
"""

from __future__ import annotations

import os
import threading

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    from collections.abc import Callable

    from mcpguard.secrets.redact import Redactor

READ_SIZE = 1 << 16
MAX_PENDING = 1 << 20
"""A line longer than this is redacted and written in pieces rather than held."""


def start_stderr_filter(read_fd: int, write_fd: int, redactor: Callable[[], Redactor]) -> threading.Thread:
    """Start a daemon thread that copies ``read_fd`` to ``write_fd`` redacted; it closes ``read_fd`` at EOF."""
    thread = threading.Thread(
        target=relay_redacted, args=(read_fd, write_fd, redactor), name="server-stderr", daemon=True
    )
    thread.start()
    return thread


def relay_redacted(read_fd: int, write_fd: int, redactor: Callable[[], Redactor]) -> None:
    """Copy ``read_fd`` to ``write_fd`` until EOF, each complete line passed through the redactor."""
    scrub = redactor()
    pending = b""
    try:
        while True:
            try:
                data = os.read(read_fd, READ_SIZE)
            except OSError:
                break
            if not data:
                break
            pending += data
            cut = pending.rfind(b"\n") + 1
            if not cut and len(pending) > MAX_PENDING:
                cut = len(pending)
            if cut:
                chunk, pending = pending[:cut], pending[cut:]
                _write(write_fd, _redact(scrub, chunk))
        if pending:
            _write(write_fd, _redact(scrub, pending))
    finally:
        os.close(read_fd)


def _redact(scrub: Redactor, chunk: bytes) -> bytes:
    text = chunk.decode("utf-8", "surrogateescape")
    out = scrub.text(text)
    return chunk if out is text else out.encode("utf-8", "surrogateescape")


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except OSError:
        pass  # our stderr is gone; keep draining so the server never blocks on a full pipe
