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
LOG_PAUSE = 0.05
"""Calls have paused when none finished for this long (seconds): the log is written at the watcher's next look."""
LOG_LAG = 2.0
"""Under a steady stream of calls, the log is written at least this often (seconds)."""
LOG_BACKLOG_BYTES = 32 << 20
"""Under a burst of calls, the log is written once the calls waiting for it hold this many bytes."""
LOG_BATCH = 500
"""Log records appended per transaction."""
LOG_EXIT_WAIT = 30.0
"""At exit, how long to let the watcher finish writing a backlog of log records (seconds)."""
GRACE_ENV = "MCPGUARD_GRACE_SECONDS"
MAX_LINE_ENV = "MCPGUARD_MAX_MESSAGE_BYTES"


class Relay:
    """The part of a proxy that polls for decisions and writes the tool-call log.

    A subclass sets the attributes below in its ``__init__``, sets :attr:`log` to its own module's
    logger, and writes what the pipeline returns in :meth:`_dispatch`.

    The log is the relay's background work: finished calls are scanned, recorded and written by
    the watcher, at its first look after the calls pause (:data:`LOG_PAUSE`), and otherwise at
    least every :data:`LOG_LAG` seconds or :data:`LOG_BACKLOG_BYTES` of waiting answers. A burst
    of calls is relayed first and logged right after it, instead of sharing one interpreter
    with its own bookkeeping while it runs.
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

    def _watch_loop(self, decisions: bool = True) -> None:
        """Poll for decisions and time-outs (unless the relay loop does) and write the log when due."""
        while not self._stopping.wait(POLL_INTERVAL):
            try:
                if decisions:
                    with self._lock:
                        outs = self.pipeline.decisions_poll() + self.pipeline.tick()
                    self._dispatch(outs)
                if self._log_due():
                    self._flush_audit()
            except Exception:
                self.log.exception("the decision watcher failed; retrying")

    def _log_due(self) -> bool:
        """Whether to write the log now; read without the lock (the relay only appends meanwhile)."""
        session = self.pipeline.session
        finished = session.finished
        if not finished:
            return bool(session.audit)  # large calls, observed already
        now = session.clock()
        return (
            now - finished[-1].ended >= LOG_PAUSE
            or session.finished_bytes >= LOG_BACKLOG_BYTES
            or now - session.log_since >= LOG_LAG
        )

    def _flush_audit(self) -> None:
        """Observe the finished calls (scan, record) and append their records, outside the lock."""
        session = self.pipeline.session
        with self._lock:
            finished, session.finished = session.finished, []
            records, session.audit = session.audit, []
            session.finished_bytes = 0
        if finished:
            observed = self.pipeline.observe(finished)
            # Large calls were recorded at once: merge them in time order.
            records = sorted(records + observed, key=_record_time) if records else observed
        if records:
            try:
                self._before_append(records)
                # In transactions of LOG_BATCH rows: after a burst of thousands of calls, other
                # shims and the tray never wait long for the database's write lock.
                for start in range(0, len(records), LOG_BATCH):
                    self.audit.append(session.client, session.name, records[start : start + LOG_BATCH])
            except Exception:
                self.log.exception("could not write %d tool-call log records", len(records))


def tune_interpreter() -> None:
    """Set the interpreter up for relaying; called once, after set-up, before the first message.

    A relayed message leaves dozens of short-lived, acyclic objects (parsed JSON, a Flow), so with
    the default threshold of 700 allocations the cyclic collector ran every few messages, and calls
    waiting for the log made its full passes grow. What exists after set-up (modules, the pins) is
    frozen out of every pass, and the young generation is collected ten times less often.

    While the watcher writes the log, a reader thread that wakes with a message waits for the GIL
    for up to the switch interval: 1 ms instead of the default 5 ms bounds what the background
    work can add to a call.
    """
    import gc
    import sys

    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
    sys.setswitchinterval(0.001)


def _record_time(record: CallRecord) -> float:
    return record.at


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
