"""The shim's I/O: spawn the real server, pump both pipes through the pipeline, never block the client.

One relay thread does all of the relaying: it ``poll`` s the client's and the server's pipes, feeds
each line to the pipeline, and writes what comes out through two :class:`~.outbox.Outbox` es (the
writes never block, so neither side can stall the other), and it asks the store for decisions and
time-outs four times a second. With one thread there is no lock to hand over and no GIL to pass
between readers on every message: a relay that spent a third of a pipelined burst handing the
interpreter back and forth now spends it relaying. A second thread writes the tool-call log off
the relay path (:class:`~.relay.Relay`). The main thread waits for the server and exits with its
status. The server's stderr is our stderr, passed straight through by the kernel. Nothing but MCP
messages is ever written to stdout.

Elsewhere than on Linux (macOS's ``poll`` refuses terminals, Windows has none), or with
``MCPGUARD_RELAY=threads``, each direction has a reader thread of its own instead, writing with
blocking writes under a lock per side.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from mcpguard import logs
from mcpguard.proxy.jsonrpc import DEFAULT_MAX_LINE, LineBuffer
from mcpguard.proxy.outbox import Outbox, make_non_blocking
from mcpguard.proxy.relay import (
    GRACE_ENV,
    LOG_EXIT_WAIT,
    MAX_LINE_ENV,
    POLL_INTERVAL,
    READ_SIZE,
    Relay,
    tune_interpreter,
    write_lines,
)

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

RELAY_ENV = "MCPGUARD_RELAY"
"""``threads``: relay with a reader thread per side even where ``poll`` exists (the fallback's tests)."""
BACKLOG = 16 << 20
"""Bytes queued for one side after which the other side is not read until they drain."""


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
        self._to_client: Outbox | None = None
        """Set while the poll loop relays; None with reader threads (blocking writes)."""
        self._to_server: Outbox | None = None

    # -- life cycle --------------------------------------------------------------------------------

    def run(self) -> int:
        """Relay until the server exits; returns the exit status to use."""
        name = self.pipeline.session.name
        if self._integrity is not None:
            self._integrity.start()  # the server is already booting; the keyring is asked meanwhile
        self._install_signal_handlers()
        tune_interpreter()
        import select

        # poll is what this project tests, on Linux; macOS's poll refuses some descriptors (terminals),
        # so elsewhere the reader threads relay.
        polled = sys.platform.startswith("linux") and hasattr(select, "poll") and os.environ.get(RELAY_ENV) != "threads"
        restore: list[int] = []
        if polled:
            restore = [fd for fd in (self.stdout_fd,) if make_non_blocking(fd)]
            assert self._proc.stdin is not None
            os.set_blocking(self._proc.stdin, False)  # our own pipe: nobody else shares it
            self._to_client, self._to_server = Outbox(self.stdout_fd), Outbox(self._proc.stdin)
        with self._lock:
            outs = self.pipeline.start()
        self._dispatch(outs)

        if polled:
            readers = [threading.Thread(target=self._poll_loop, name="relay", daemon=True)]
        else:
            readers = [
                threading.Thread(target=self._server_loop, name="server-reader", daemon=True),
                threading.Thread(target=self._client_loop, name="client-reader", daemon=True),
            ]
        watcher = threading.Thread(target=self._watch_loop, args=(not polled,), name="watcher", daemon=True)
        for thread in readers:
            thread.start()
        watcher.start()

        code = self._proc.wait()
        assert code is not None
        readers[0].join(timeout=2.0)
        self._stopping.set()
        watcher.join(timeout=LOG_EXIT_WAIT)  # a backlog of log records is written, not dropped
        self._flush_audit()
        for fd in restore:
            try:
                os.set_blocking(fd, True)
            except OSError:
                pass
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

    # -- the poll loop -----------------------------------------------------------------------------

    def _poll_loop(self) -> None:
        """The relay thread: a relay that broke ends the server (and so the shim) rather than hang the client."""
        try:
            self._poll()
        except Exception:
            log.exception("the relay failed; stopping the server")
            self._proc.signal_group(signal.SIGTERM)

    def _poll(self) -> None:
        """Relay both directions from this one thread until the server has ended and its output is relayed."""
        import select

        proc = self._proc
        to_client, to_server = self._to_client, self._to_server
        assert to_client is not None and to_server is not None
        client_fd, server_fd = self.stdin_fd, proc.stdout
        buffers = {client_fd: LineBuffer(self.max_line), server_fd: LineBuffer(self.max_line)}
        handlers = {client_fd: self.pipeline.from_client, server_fd: self.pipeline.from_server}
        reading = {client_fd, server_fd}
        poller = select.poll()
        registered: dict[int, int] = {}
        readable = select.POLLIN | select.POLLHUP | select.POLLERR | select.POLLNVAL
        clock = time.monotonic
        next_tick = clock() + POLL_INTERVAL
        eof_at: float | None = None  # the client closed its end; the server's stdin is closed once drained
        ending = 0  # signals sent to a server that outlived its input (0, then SIGTERM, then SIGKILL)

        state: tuple[bool, ...] = ()
        # Until the server's output is relayed and the server has ended: a server that closes its stdout
        # early still ends when the client leaves (the grace period below).
        while (server_fd in reading or to_client.pending or proc.returncode is None) and not self._stopping.is_set():
            wanted = (
                client_fd in reading and to_server.size < BACKLOG,
                server_fd in reading and to_client.size < BACKLOG,
                to_client.pending,
                to_server.pending,
            )
            if wanted != state:  # (re)register only when what the loop waits for changes
                state = wanted
                masks: dict[int, int] = {}
                for fd, mask, wait_for in (
                    (client_fd, select.POLLIN, wanted[0]),
                    (server_fd, select.POLLIN, wanted[1]),
                    (to_client.fd, select.POLLOUT, wanted[2]),
                    (to_server.fd, select.POLLOUT, wanted[3]),
                ):
                    if wait_for and fd is not None:
                        masks[fd] = masks.get(fd, 0) | mask
                for fd in registered.keys() - masks.keys():
                    poller.unregister(fd)
                for fd, mask in masks.items():
                    if registered.get(fd) != mask:
                        poller.register(fd, mask)
                registered = masks

            wait = max(0.0, next_tick - clock())
            for fd, event in poller.poll(wait * 1000):
                if event & select.POLLOUT:
                    if fd == to_client.fd and not to_client.flush():
                        self._client_closed()
                    if fd == to_server.fd and not to_server.flush():
                        self._server_closed()
                if event & readable and fd in reading:
                    try:
                        data = os.read(fd, READ_SIZE)
                    except OSError as exc:
                        log.warning("reading from the %s failed: %s", "client" if fd == client_fd else "server", exc)
                        data = b""
                    buffer = buffers[fd]
                    if data:
                        self._relay(buffer.feed(data), handlers[fd])
                        continue
                    reading.discard(fd)
                    rest = buffer.flush()
                    if rest is not None:
                        self._relay([rest], handlers[fd])
                    if fd == client_fd:
                        eof_at = clock()

            now = clock()
            if eof_at is not None and proc.returncode is None:
                if proc.stdin is not None and (not to_server.pending or now - eof_at >= self.grace):
                    # Everything the client sent is written (or the server stopped reading it): EOF.
                    proc.close_stdin()
                    to_server.close()
                    eof_at = now
                elif proc.stdin is None and now - eof_at >= self.grace:
                    ending += 1
                    eof_at = now
                    if ending == 1:
                        log.info(
                            "server %s still running %.1fs after its input closed; terminating",
                            self.command[0],
                            self.grace,
                        )
                    proc.signal_group(signal.SIGTERM if ending == 1 else signal.SIGKILL)
            if now >= next_tick:
                next_tick = now + POLL_INTERVAL
                try:
                    with self._lock:
                        outs = self.pipeline.decisions_poll() + self.pipeline.tick()
                    self._dispatch(outs)
                except Exception:
                    log.exception("checking for decisions failed; retrying")

    def _client_closed(self) -> None:
        log.info("the client closed its input; stopping the server")
        self._proc.signal_group(signal.SIGTERM)

    def _server_closed(self) -> None:
        log.warning("the server is not reading its input; a message to it was dropped")

    # -- reader threads (where poll is missing) ------------------------------------------------------

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
        """Write what the pipeline returned, one write per side: queued on the outboxes, or blocking
        under a lock per side with reader threads."""
        if len(outs) == 1:
            side, data = outs[0]
            to_client = [data] if side == "client" else []
            to_server = [data] if side != "client" else []
        else:
            to_client = [data for side, data in outs if side == "client"]
            to_server = [data for side, data in outs if side != "client"]
        client_box, server_box = self._to_client, self._to_server
        if to_client:
            if client_box is not None:
                if not client_box.closed and not client_box.send(to_client):
                    self._client_closed()
            else:
                with self._client_out:
                    if not write_lines(self.stdout_fd, to_client):
                        self._client_closed()
        if to_server:
            if server_box is not None:
                if not server_box.closed and not server_box.send(to_server):
                    self._server_closed()
            else:
                with self._server_out:
                    stdin = self._proc.stdin
                    if stdin is None or not write_lines(stdin, to_server):
                        self._server_closed()
