"""What the shim and the remote bridge share: the watcher, the tool-call log flush, line writing.

Both run one :class:`~mcpguard.proxy.pipeline.Pipeline` under one lock and differ only in their
transports. :class:`Relay` holds the watcher thread's loop and the flush of the session's log
records; :func:`write_lines` writes messages to a file descriptor. Standard library only: this is
on the shim's start-up path.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    import threading

    from mcpguard.audit import AuditLog, CallRecord
    from mcpguard.logs import Logger
    from mcpguard.proxy.pipeline import Out, Pipeline

READ_SIZE = 1 << 16
POLL_INTERVAL = 0.25
"""How often the store is asked for new decisions: a decision reaches the client well within a second."""
GRACE_ENV = "MCPGUARD_GRACE_SECONDS"
MAX_LINE_ENV = "MCPGUARD_MAX_MESSAGE_BYTES"


class Relay:
    """The part of a proxy that polls for decisions and writes the tool-call log.

    A subclass sets the attributes below in its ``__init__``, sets :attr:`log` to its own module's
    logger, and writes what the pipeline returns in :meth:`_dispatch`.
    """

    log: Logger
    pipeline: Pipeline
    audit: AuditLog
    _lock: threading.Lock
    """Held around every use of the pipeline and its session."""
    _stopping: threading.Event
    """Set to end the watcher."""

    def _dispatch(self, outs: list[Out]) -> None:
        raise NotImplementedError

    def _before_append(self, records: list[CallRecord]) -> None:
        """Prepare records for the log, off the relay path; an exception drops them with the error logged."""

    def _watch_loop(self) -> None:
        while not self._stopping.wait(POLL_INTERVAL):
            try:
                with self._lock:
                    outs = self.pipeline.decisions_poll() + self.pipeline.tick()
                self._dispatch(outs)
                self._flush_audit()
            except Exception:
                self.log.exception("the decision watcher failed; retrying")

    def _flush_audit(self) -> None:
        session = self.pipeline.session
        with self._lock:
            records, session.audit = session.audit, []
        if records:
            try:
                self._before_append(records)
                self.audit.append(session.client, session.name, records)
            except Exception:
                self.log.exception("could not write %d tool-call log records", len(records))


def write_lines(fd: int, messages: list[bytes | bytearray]) -> bool:
    """Write messages, each followed by a newline; False when the reader has gone.

    Small messages are joined and written at once; a large one is written as it is, then its
    newline, so that it is never copied.
    """
    batch: list[bytes | bytearray] = []
    try:
        for data in messages:
            if len(data) < READ_SIZE:
                batch += (data, b"\n")
                continue
            if batch:
                _write_all(fd, b"".join(batch))
                batch = []
            _write_all(fd, data)
            _write_all(fd, b"\n")
        if batch:
            _write_all(fd, b"".join(batch))
    except (BrokenPipeError, ValueError, OSError):
        return False
    return True


def _write_all(fd: int, data: bytes | bytearray) -> None:
    """Write all of ``data``: a pipe takes at most its capacity per call."""
    written = os.write(fd, data)
    if written < len(data):
        view = memoryview(data)[written:]
        while view:
            view = view[os.write(fd, view) :]
