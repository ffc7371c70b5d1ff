"""The shim's I/O: spawn the real server, pump both pipes through the pipeline, never block the client.

Three threads and the main one. One reads the client (our stdin), one reads the server (its
stdout); each feeds lines to the pipeline under one lock and writes what it returns. A third polls
the store for decisions and time-outs and writes the tool-call log off the hot path. The main
thread waits for the server and exits with its status. The server's stderr is our stderr, passed
straight through by the kernel. Nothing but MCP messages is ever written to stdout.
"""

from __future__ import annotations

import os
import signal
import threading

from mcpguard import logs
from mcpguard.proxy.jsonrpc import DEFAULT_MAX_LINE, LineBuffer
from mcpguard.proxy.relay import GRACE_ENV, MAX_LINE_ENV, READ_SIZE, Relay, write_lines

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Protocol

    from mcpguard.audit import AuditLog, CallRecord
    from mcpguard.proxy.jsonrpc import Line, Oversized
    from mcpguard.proxy.pipeline import Out, Pipeline
    from mcpguard.proxy.spawn import Server
    from mcpguard.secrets.redact import Redactor

    class KeyLookup(Protocol):
        """What the shim needs of ``mcpguard.secrets.integrity.BackgroundKey`` (not imported: it reaches keyring)."""

        def start(self) -> None: ...

        def wait(self) -> bytes | None: ...


log = logs.get(__name__)


class Shim(Relay):
    """Runs one guarded server for one client connection."""

    log = log

    def __init__(
        self,
        pipeline: Pipeline,
        audit: AuditLog,
        proc: Server,
        *,
        stdin_fd: int = 0,
        stdout_fd: int = 1,
        grace: float | None = None,
        max_line: int | None = None,
        redactor: Callable[[], Redactor] | None = None,
        integrity: KeyLookup | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.audit = audit
        self.command = proc.args
        self.stdin_fd = stdin_fd
        self.stdout_fd = stdout_fd
        self.grace = grace if grace is not None else float(os.environ.get(GRACE_ENV, "2"))
        self.max_line = max_line if max_line is not None else int(os.environ.get(MAX_LINE_ENV, DEFAULT_MAX_LINE))
        self._lock = threading.Lock()
        self._client_out = threading.Lock()
        self._server_out = threading.Lock()
        self._stopping = threading.Event()
        self._proc = proc
        self._make_redactor = redactor
        self._redactor: Redactor | None = None
        self._integrity = integrity

    # -- life cycle --------------------------------------------------------------------------------

    def run(self) -> int:
        """Relay until the server exits; returns the exit status to use."""
        name = self.pipeline.session.name
        if self._integrity is not None:
            self._integrity.start()  # the server is already booting; the keyring is asked meanwhile
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
        assert code is not None
        server_reader.join(timeout=2.0)
        self._stopping.set()
        watcher.join(timeout=2.0)
        self._flush_audit()
        self._proc.signal_group(signal.SIGTERM)
        if code < 0:
            log.info("server %s ended by signal %d", name, -code)
            return 128 - code
        return code

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def forward(signum: int, _frame: object) -> None:
            self._proc.signal_group(signal.SIGTERM)

        for sig in (signal.SIGTERM, signal.SIGINT, getattr(signal, "SIGHUP", None)):
            if sig is not None:
                signal.signal(sig, forward)

    def _client_gone(self) -> None:
        """Client EOF: close the server's stdin, then end its process group after the grace period."""
        proc = self._proc
        with self._server_out:
            proc.close_stdin()
        if proc.wait(timeout=self.grace) is not None:
            return
        log.info("server %s still running %.1fs after its input closed; terminating", self.command[0], self.grace)
        proc.signal_group(signal.SIGTERM)
        if proc.wait(timeout=self.grace) is None:
            proc.signal_group(signal.SIGKILL)

    # -- pumps -------------------------------------------------------------------------------------

    def _client_loop(self) -> None:
        buffer = LineBuffer(self.max_line)
        try:
            while True:
                data = os.read(self.stdin_fd, READ_SIZE)
                if not data:
                    break
                self._relay(buffer.feed(data), self.pipeline.from_client)
            rest = buffer.flush()
            if rest is not None:
                self._relay([rest], self.pipeline.from_client)
        except OSError as exc:
            log.warning("reading from the client failed: %s", exc)
        self._client_gone()

    def _server_loop(self) -> None:
        fd = self._proc.stdout
        buffer = LineBuffer(self.max_line)
        try:
            while True:
                data = os.read(fd, READ_SIZE)
                if not data:
                    break
                self._relay(buffer.feed(data), self.pipeline.from_server)
            rest = buffer.flush()
            if rest is not None:
                self._relay([rest], self.pipeline.from_server)
        except OSError as exc:
            log.warning("reading from the server failed: %s", exc)

    def _relay(self, lines: list[Line | Oversized], handle: Callable[[Line | Oversized], list[Out]]) -> None:
        """Run the lines of one read through the pipeline, then write what came out, once per side.

        Each line is taken out of the list before it is handled and dropped right after, so a large
        message is not kept alive while the next one is read. A pipelined burst of sixty messages
        costs one write per side instead of sixty.
        """
        if len(lines) == 1:  # the usual case outside bursts
            line = lines.pop()
            with self._lock:
                outs = handle(line)
            del line
        else:
            outs = []
            lines.reverse()
            while lines:
                line = lines.pop()
                with self._lock:
                    outs += handle(line)
                del line
        if outs:
            self._dispatch(outs)

    def _before_append(self, records: list[CallRecord]) -> None:
        self._redact(records)
        if self._integrity is not None and self.audit.key is None:
            self.audit.key = self._integrity.wait()  # keyed rows when the profile has a key

    def _redact(self, records: list[CallRecord]) -> None:
        """Scrub secret values and credential shapes from records before they are stored.

        Runs where records are flushed (the watcher thread, or at exit), never on the relay path; the
        redactor is built at the first flush, so a shim that logs nothing never compiles its patterns.
        """
        if self._make_redactor is None:
            return
        if self._redactor is None:
            self._redactor = self._make_redactor()
        scrub = self._redactor
        from mcpguard.audit import ArgumentsText

        for rec in records:
            if isinstance(rec.arguments, ArgumentsText):
                text = scrub.text(rec.arguments)
                if text is not rec.arguments:
                    rec.arguments = ArgumentsText(text)
            else:
                rec.arguments = scrub.value(rec.arguments)
            rec.detail = scrub.text(rec.detail)
            rec.findings = scrub.value(rec.findings)

    # -- writing -----------------------------------------------------------------------------------

    def _dispatch(self, outs: list[Out]) -> None:
        if len(outs) == 1:
            side, data = outs[0]
            to_client = [data] if side == "client" else []
            to_server = [data] if side != "client" else []
        else:
            to_client = [data for side, data in outs if side == "client"]
            to_server = [data for side, data in outs if side != "client"]
        if to_client:
            with self._client_out:
                if not write_lines(self.stdout_fd, to_client):
                    log.info("the client closed its input; stopping the server")
                    self._proc.signal_group(signal.SIGTERM)
        if to_server:
            with self._server_out:
                stdin = self._proc.stdin
                if stdin is None or not write_lines(stdin, to_server):
                    log.warning("the server is not reading its input; a message to it was dropped")
