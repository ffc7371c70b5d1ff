"""The shim's I/O: spawn the real server, pump both pipes through the pipeline, never block the client.

Three threads and the main one. One reads the client (our stdin), one reads the server (its
stdout); each feeds lines to the pipeline under one lock and writes what it returns. A third polls
the store for decisions and time-outs and writes the tool-call log off the hot path. The main
thread waits for the server and exits with its status. The server's stderr is our stderr, passed
straight through by the kernel. Nothing but MCP messages is ever written to stdout.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from typing import IO

from mcpguard.audit import AuditLog
from mcpguard.proxy.jsonrpc import DEFAULT_MAX_LINE, Line, LineBuffer, Oversized
from mcpguard.proxy.pipeline import Out, Pipeline

log = logging.getLogger(__name__)

READ_SIZE = 1 << 16
POLL_INTERVAL = 0.25
"""How often the store is asked for new decisions: a decision reaches the client well within a second."""
GRACE_ENV = "MCPGUARD_GRACE_SECONDS"
MAX_LINE_ENV = "MCPGUARD_MAX_MESSAGE_BYTES"


class Shim:
    """Runs one guarded server for one client connection."""

    def __init__(
        self,
        pipeline: Pipeline,
        audit: AuditLog,
        proc: subprocess.Popen[bytes],
        *,
        stdin_fd: int = 0,
        stdout_fd: int = 1,
        grace: float | None = None,
        max_line: int | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.audit = audit
        self.command = proc.args if isinstance(proc.args, list) else [str(proc.args)]
        self.stdin_fd = stdin_fd
        self.stdout_fd = stdout_fd
        self.grace = grace if grace is not None else float(os.environ.get(GRACE_ENV, "2"))
        self.max_line = max_line if max_line is not None else int(os.environ.get(MAX_LINE_ENV, DEFAULT_MAX_LINE))
        self._lock = threading.Lock()
        self._client_out = threading.Lock()
        self._server_out = threading.Lock()
        self._stopping = threading.Event()
        self._proc = proc
        self._server_stdin: IO[bytes] | None = None

    # -- life cycle --------------------------------------------------------------------------------

    def run(self) -> int:
        """Relay until the server exits; returns the exit status to use."""
        name = self.pipeline.session.name
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._server_stdin = self._proc.stdin
        self._install_signal_handlers()
        with self._lock:
            outs = self.pipeline.start()
        self._dispatch(outs)

        server_reader = threading.Thread(target=self._server_loop, name="server-reader", daemon=True)
        client_reader = threading.Thread(target=self._client_loop, name="client-reader", daemon=True)
        watcher = threading.Thread(target=self._watch_loop, name="watcher", daemon=True)
        server_reader.start()
        client_reader.start()
        watcher.start()

        code = self._proc.wait()
        server_reader.join(timeout=2.0)
        self._stopping.set()
        watcher.join(timeout=2.0)
        self._flush_audit()
        self._signal_group(signal.SIGTERM)
        if code < 0:
            log.info("server %s ended by signal %d", name, -code)
            return 128 - code
        return code

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def forward(signum: int, _frame: object) -> None:
            self._signal_group(signal.SIGTERM)

        for sig in (signal.SIGTERM, signal.SIGINT, getattr(signal, "SIGHUP", None)):
            if sig is not None:
                signal.signal(sig, forward)

    def _signal_group(self, sig: int) -> None:
        proc = self._proc
        if proc is None:
            return
        try:
            if os.name == "posix":
                os.killpg(proc.pid, sig)
            elif proc.poll() is None:
                proc.terminate()
        except (ProcessLookupError, PermissionError):
            pass

    def _client_gone(self) -> None:
        """Client EOF: close the server's stdin, then end its process group after the grace period."""
        with self._server_out:
            if self._server_stdin is not None:
                try:
                    self._server_stdin.close()
                except OSError:
                    pass
                self._server_stdin = None
        proc = self._proc
        if proc is None:
            return
        try:
            proc.wait(timeout=self.grace)
            return
        except subprocess.TimeoutExpired:
            log.info("server %s still running %.1fs after its input closed; terminating", self.command[0], self.grace)
        self._signal_group(signal.SIGTERM)
        try:
            proc.wait(timeout=self.grace)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)

    # -- pumps -------------------------------------------------------------------------------------

    def _client_loop(self) -> None:
        buffer = LineBuffer(self.max_line)
        try:
            while True:
                data = os.read(self.stdin_fd, READ_SIZE)
                if not data:
                    break
                for line in buffer.feed(data):
                    self._handle_client(line)
            rest = buffer.flush()
            if rest is not None:
                self._handle_client(rest)
        except OSError as exc:
            log.warning("reading from the client failed: %s", exc)
        self._client_gone()

    def _server_loop(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        buffer = LineBuffer(self.max_line)
        try:
            while True:
                data = os.read(fd, READ_SIZE)
                if not data:
                    break
                for line in buffer.feed(data):
                    self._handle_server(line)
            rest = buffer.flush()
            if rest is not None:
                self._handle_server(rest)
        except OSError as exc:
            log.warning("reading from the server failed: %s", exc)

    def _handle_client(self, line: Line | Oversized) -> None:
        with self._lock:
            outs = self.pipeline.from_client(line)
        self._dispatch(outs)

    def _handle_server(self, line: Line | Oversized) -> None:
        with self._lock:
            outs = self.pipeline.from_server(line)
        self._dispatch(outs)

    def _watch_loop(self) -> None:
        while not self._stopping.wait(POLL_INTERVAL):
            try:
                with self._lock:
                    outs = self.pipeline.decisions_poll() + self.pipeline.tick()
                self._dispatch(outs)
                self._flush_audit()
            except Exception:
                log.exception("the decision watcher failed; retrying")

    def _flush_audit(self) -> None:
        session = self.pipeline.session
        with self._lock:
            records, session.audit = session.audit, []
        if records:
            try:
                self.audit.append(session.client, session.name, records)
            except Exception:
                log.exception("could not write %d tool-call log records", len(records))

    # -- writing -----------------------------------------------------------------------------------

    def _dispatch(self, outs: list[Out]) -> None:
        for side, data in outs:
            if side == "client":
                with self._client_out:
                    if not _write_all(self.stdout_fd, data):
                        log.info("the client closed its input; stopping the server")
                        self._signal_group(signal.SIGTERM)
            else:
                with self._server_out:
                    stdin = self._server_stdin
                    if stdin is None or not _write_all(stdin.fileno(), data):
                        log.warning("the server is not reading its input; a message to it was dropped")


def _write_all(fd: int, data: bytes | bytearray) -> bool:
    """Write one message and its newline; False when the reader has gone."""
    small = len(data) < READ_SIZE
    view = memoryview(data + b"\n" if small else data)
    try:
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if not small:
            os.write(fd, b"\n")
    except (BrokenPipeError, ValueError, OSError):
        return False
    return True
