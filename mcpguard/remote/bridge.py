"""``mcpguard remote URL``: a stdio MCP server to the client, a Streamable HTTP client to the remote server.

One proxy core, two transports: the bridge runs the very :class:`~mcpguard.proxy.pipeline.Pipeline`
with :func:`~mcpguard.proxy.steps.default_steps` that ``mcpguard run`` runs, over a
:class:`~mcpguard.proxy.session.Session` whose "command line" is the server's URL. Lines from the
client go through ``pipeline.from_client``; what it returns for the server is POSTed, what it
returns for the client is written to stdout. Every message the server sends (POST answers, SSE
events, the GET stream) goes through ``pipeline.from_server`` the same way.

Threads, as in the shim: the main one reads the client; each request in flight has a worker (an
answer stream may last minutes, and the client may send more meanwhile); the transport's GET stream
has one; a watcher polls the store for decisions four times a second and writes the tool-call log.
The pipeline is used under one lock; writes to stdout are serialised by another. Notifications and
responses for the server are sent by the thread that produced them, in order (each is a quick 202).
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading
import time

from mcpguard import logs
from mcpguard.policy import Status
from mcpguard.proxy import jsonrpc
from mcpguard.proxy.jsonrpc import DEFAULT_MAX_LINE, LineBuffer
from mcpguard.proxy.relay import GRACE_ENV, LOG_EXIT_WAIT, MAX_LINE_ENV, READ_SIZE, Relay, write_lines
from mcpguard.remote.options import Options
from mcpguard.remote.transport import TRANSPORT_ERROR, Outgoing

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from mcpguard.audit import AuditLog
    from mcpguard.paths import AppPaths
    from mcpguard.pinning.store import Store
    from mcpguard.proxy.jsonrpc import Line, Oversized
    from mcpguard.proxy.pipeline import Out, Pipeline
    from mcpguard.remote.auth import NoAuth
    from mcpguard.remote.endpoint import Endpoint
    from mcpguard.remote.oauth.flow import OAuthAuth, SignInBoard
    from mcpguard.remote.transport import Deliver, HttpTransport
    from mcpguard.secrets.base import SecretStore

    Connect = Callable[[Deliver, Callable[[], None], Callable[[Outgoing], bool]], HttpTransport]

log = logs.get(__name__)

LIST_CHANGED_KINDS = ("tools", "prompts", "resources")
_STOP_SIGNALS = [s for s in (signal.SIGTERM, signal.SIGINT, getattr(signal, "SIGHUP", None)) if s is not None]
GUARDED_CALLS = frozenset({"tools/call", "prompts/get"})
"""Requests decided against what the server listed: after a new session they are decided again."""
AUTHORIZATION_SERVER = "authorization-server"
"""The word before the issuer of the authorization server in a remote server's pinned "command line"."""
EXCHANGE_SLACK = 15.0
"""Seconds a sign-in that just got its redirect may take for the code exchange after its listener's deadline."""


class _Interrupted(BaseException):
    """A signal asked the bridge to stop; raised in the main thread, where it reads the client."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _Workers:
    """Threads for requests in flight: an idle one takes the next job, otherwise a new one starts.

    A fixed-size pool would make the next request wait behind long answer streams; a thread per
    request costs its start-up on every call. Idle threads stay for the next request.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._cond = threading.Condition()
        self._idle = 0
        self._running = 0
        self._threads: list[threading.Thread] = []

    def submit(self, job: Callable[[], None]) -> None:
        with self._cond:
            self._running += 1
            spawn = self._idle == 0
            if not spawn:
                self._idle -= 1
        self._jobs.put(job)
        if spawn:
            thread = threading.Thread(target=self._work, name="remote-request", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                job()
            finally:
                with self._cond:
                    self._running -= 1
                    self._idle += 1
                    self._cond.notify_all()

    def wait(self, timeout: float) -> bool:
        """Wait until no job runs; False if some still do after ``timeout`` seconds."""
        with self._cond:
            return self._cond.wait_for(lambda: self._running == 0, timeout)

    def stop(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)


class Bridge(Relay):
    """Relays one client's stdio connection to one remote MCP server through the guard.

    Args:
        pipeline: The guard, over a session whose command is the server's URL identity.
        audit: Where the tool-call log records go.
        connect: Builds the transport, given the function it delivers server messages to, the one
            it calls after it replaced a session the server forgot, and the one that takes a call
            back into the guard after that.
        signin: The OAuth method, when it is used: a sign-in it offers in the tray is seen through
            when the client leaves, and withdrawn when the bridge is stopped.
    """

    log = log

    def __init__(
        self,
        pipeline: Pipeline,
        audit: AuditLog,
        connect: Connect,
        *,
        stdin_fd: int = 0,
        stdout_fd: int = 1,
        max_line: int | None = None,
        grace: float | None = None,
        signin: OAuthAuth | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.signin = signin
        self.audit = audit
        self.stdin_fd = stdin_fd
        self.stdout_fd = stdout_fd
        self.max_line = max_line if max_line is not None else int(os.environ.get(MAX_LINE_ENV, DEFAULT_MAX_LINE))
        self.grace = grace if grace is not None else float(os.environ.get(GRACE_ENV, "2"))
        self._lock = threading.Lock()
        self._client_out = threading.Lock()
        self._stopping = threading.Event()
        self._client_gone = False
        self._workers = _Workers()
        self.transport = connect(self._from_server, self._on_new_session, self._reroute)

    # -- life cycle --------------------------------------------------------------------------------

    def run(self) -> int:
        """Relay until the client closes its end; returns the exit status.

        0 after a normal end; 1 when the server could never be reached at all; 128+N after signal N.
        """
        self._install_signal_handlers()
        with self._lock:
            outs = self.pipeline.start()
        self._dispatch(outs)
        watcher = threading.Thread(target=self._watch_loop, name="watcher", daemon=True)
        watcher.start()
        code = 0
        try:
            self._client_loop()
            self._linger()
        except _Interrupted as stop:
            log.info("stopping on signal %d", stop.signum)
            code = 128 + stop.signum
        finally:
            self._finish(watcher)
            self._client_gone = True  # late answers (a request past the grace period) are not written
        if code == 0 and self.transport.attempted and not self.transport.connected:
            return 1
        return code

    def _finish(self, watcher: threading.Thread) -> None:
        """Give answers in flight a moment, end the remote session, write the last log records.

        A second signal meanwhile ends the process at once (the default action is back in place).
        """
        if threading.current_thread() is threading.main_thread():
            for sig in _STOP_SIGNALS:
                signal.signal(sig, signal.SIG_DFL)
        if not self._workers.wait(self.grace):
            log.info("requests still in flight %.1fs after the client left; ending the session anyway", self.grace)
        if self.signin is not None:
            self.signin.cancel_signin()
        try:
            self.transport.close()
        except Exception:
            log.exception("ending the remote session failed")
        self._workers.stop()
        self._stopping.set()
        watcher.join(timeout=LOG_EXIT_WAIT)  # a backlog of log records is written, not dropped
        self._flush_audit()

    def _linger(self) -> None:
        """The client left while a sign-in waits in the tray: see it through, so the next start has the token.

        A client that got "sign in, then retry" may well close the bridge and start a new one later;
        the user's sign-in should not be lost with this process. Bounded by the listener's own
        deadline; a signal still ends the bridge at once (and withdraws the offer).
        """
        auth = self.signin
        left = auth.signin_left() if auth is not None else None
        if auth is None or left is None:
            return
        print(
            f"mcpguard: waiting up to {left:.0f} s for the sign-in to {auth.name} offered in the tray",
            file=sys.stderr,
            flush=True,
        )
        deadline = time.monotonic() + left + EXCHANGE_SLACK
        while not auth.wait_signin(0.5) and time.monotonic() < deadline:
            pass

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def stop(signum: int, _frame: object) -> None:
            raise _Interrupted(signum)

        for sig in _STOP_SIGNALS:
            signal.signal(sig, stop)

    # -- client side -------------------------------------------------------------------------------

    def _client_loop(self) -> None:
        buffer = LineBuffer(self.max_line)
        try:
            while True:
                data = os.read(self.stdin_fd, READ_SIZE)
                if not data:
                    break
                self._relay(buffer.feed(data))
            rest = buffer.flush()
            if rest is not None:
                self._relay([rest])
        except OSError as exc:
            log.warning("reading from the client failed: %s", exc)

    def _relay(self, lines: list[Line | Oversized]) -> None:
        """The lines of one read through the pipeline, one at a time, then what came out (as the shim does)."""
        outs: list[Out] = []
        lines.reverse()
        while lines:
            line = lines.pop()
            with self._lock:
                outs += self.pipeline.from_client(line)
            del line
        if outs:
            self._dispatch(outs)

    # -- server side -------------------------------------------------------------------------------

    def _from_server(self, data: Line | Oversized) -> None:
        """A message from the server, from whichever transport thread read it."""
        with self._lock:
            outs = self.pipeline.from_server(data)
        if outs:
            self._dispatch(outs)

    def _on_new_session(self) -> None:
        """The transport replaced a session the server forgot: the server's lists may differ now.

        The guard is told as if the server had announced it, so that its listings go stale and the
        next call is verified against a fresh one; the client hears it too and lists again.
        """
        with self._lock:
            capabilities = dict(self.pipeline.session.capabilities)
        for kind in LIST_CHANGED_KINDS:
            if kind in capabilities:
                self._from_server(jsonrpc.encode(jsonrpc.notification(f"notifications/{kind}/list_changed")))

    def _reroute(self, out: Outgoing) -> bool:
        """A call that found its session gone goes through the guard again, which now lists first."""
        if out.method not in GUARDED_CALLS:
            return False
        with self._lock:
            outs = self.pipeline.from_client(out.data)
        if outs:
            self._dispatch(outs)
        return True

    def _send(self, data: Line) -> None:
        out = Outgoing(data)
        if out.is_request:
            self._workers.submit(lambda: self._post(out))
        else:
            self._post(out)

    def _post(self, out: Outgoing) -> None:
        try:
            self.transport.send(out)
        except Exception as exc:
            log.exception("sending a message to the remote server failed")
            for key in list(out.waiting):  # never leave the client waiting, whatever broke
                out.waiting.discard(key)
                error = jsonrpc.error_response(
                    out.ids[key], TRANSPORT_ERROR, f"mcpguard could not send the request ({type(exc).__name__})"
                )
                self._from_server(jsonrpc.encode(error))

    # -- identity --------------------------------------------------------------------------------

    def pin_command(self, command: list[str]) -> None:
        """The server's pinned identity changed mid-session (its authorization server became known or moved).

        Running the guard's start again observes the new "command line": when it is not approved,
        every call from now on is held, exactly as for a server started with a changed command.
        The watcher then lets every step react as after a decision, so a client whose view
        changed hears ``list_changed``. With trust on first use, a never-seen server's first
        connection approves the new identity as it approved the first. Called from the thread that
        learned the issuer.
        """
        with self._lock:
            session = self.pipeline.session
            if command == session.command:
                return
            log.info("the pinned identity of %r is now %s", session.name, command)
            session.command = command
            outs = self.pipeline.start()
            actor = session.first_use_actor()
            view = session.view("command", "")
            if actor is not None and view is not None and view.status is not Status.APPROVED:
                # what a never-seen server shows on its first connection includes where it signs in
                session.store.decide(session.server.id, "command", "", "approve", actor=actor)
                outs += self.pipeline.start()
            session.rev = -1  # every step re-reads its pins at the watcher's next look
        if outs:
            self._workers.submit(lambda: self._dispatch(outs))

    # -- writing -----------------------------------------------------------------------------------

    def _dispatch(self, outs: Sequence[Out]) -> None:
        to_client = [data for side, data in outs if side == "client"]
        if to_client:
            with self._client_out:
                if not self._client_gone and not write_lines(self.stdout_fd, to_client):
                    self._client_gone = True
                    log.info("the client closed its input; its answers are dropped until it closes ours")
        for side, data in outs:
            if side == "server":
                self._send(data)


class Remote:
    """A remote server set up from its :class:`Options`: what both the bridge and ``remote login`` connect with.

    One set-up for both, so that login cannot sign in differently from the bridge (another
    header, another client id, a second OAuth implementation) and leave it a token it cannot use.
    Made by :func:`prepare`.
    """

    def __init__(self, options: Options, endpoint: Endpoint, headers: dict[str, str], paths: AppPaths) -> None:
        self.options = options
        self.endpoint = endpoint
        self.headers = headers
        """The ``--header`` options, ``@keyring:`` references resolved."""
        self.paths = paths
        self.max_line = int(os.environ.get(MAX_LINE_ENV, DEFAULT_MAX_LINE))

    def auth(self, board: SignInBoard | None) -> NoAuth | OAuthAuth | str:
        """The auth method (OAuth unless an ``Authorization`` header was given), or a sentence saying which option
        is wrong. ``board``: where a sign-in is offered when a tray runs; None opens the browser from here.
        """
        o = self.options
        return _oauth(
            self.endpoint,
            self.headers,
            self.paths,
            o.name,
            o.scope,
            o.client_id,
            o.client_metadata_url,
            o.trust_issuer,
            board,
        )

    def transport(
        self,
        auth: NoAuth | OAuthAuth,
        deliver: Deliver,
        *,
        on_new_session: Callable[[], None] | None = None,
        reroute: Callable[[Outgoing], bool] | None = None,
    ) -> HttpTransport:
        """The connection to the server, sending the user's headers and signing in through ``auth``."""
        from mcpguard.remote.transport import DEFAULT_TIMEOUT, HttpTransport

        timeout = self.options.timeout
        return HttpTransport(
            self.endpoint,
            deliver,
            name=self.options.name,
            headers=self.headers,
            timeout=timeout if timeout is not None else DEFAULT_TIMEOUT,
            max_message=self.max_line,
            on_new_session=on_new_session,
            reroute=reroute,
            auth=auth,
        )


def prepare(options: Options) -> Remote | str:
    """Check the options and read the ``@keyring:`` headers; a sentence saying what is wrong instead (exit 2).

    Nothing is sent to the server and no store is opened until the options are known to be good.
    """
    _skip_httpx_cli()
    from mcpguard.paths import AppPaths
    from mcpguard.remote.endpoint import KEYRING_REF, check_url, parse_headers, resolve_keyring_headers
    from mcpguard.remote.errors import RemoteError

    if options.timeout is not None and not options.timeout > 0:
        return "--timeout must be a positive number of seconds"
    try:
        endpoint = check_url(options.url)
        extra = parse_headers(options.headers)
    except RemoteError as exc:
        return str(exc)

    paths = AppPaths.from_env()
    logs.defer_setup(paths, prefix="remote")
    if any(v.startswith(KEYRING_REF) for v in extra.values()):
        from mcpguard.secrets.base import SecretsUnavailable
        from mcpguard.secrets.keyring_store import open_store

        try:
            extra = resolve_keyring_headers(extra, open_store(paths).get)
        except (RemoteError, SecretsUnavailable) as exc:
            return str(exc)
    return Remote(options, endpoint, extra, paths)


def main(options: Options, *, client: str) -> int:
    """``mcpguard remote``: check the options, set the guard up, relay; returns the exit status.

    ``client`` is the AI client that launched the bridge (``--client``): with the server's name it
    keys the pins, the log and the sign-in offers.

    OAuth (:mod:`mcpguard.remote.oauth`) answers the server's 401s unless the user passed an
    ``Authorization`` header of their own. ``--trust-issuer`` is part of the pinned identity: an
    exception to the issuer check is a change of what the user trusts, so it holds tools like a
    changed URL does. So is the authorization server, once it is known: from the stored tokens at
    start (else as last recorded), then from every discovery.
    """
    name, trust_issuer = options.name, options.trust_issuer
    remote = prepare(options)
    if isinstance(remote, str):
        print(f"mcpguard: {remote}", file=sys.stderr)
        return 2
    from mcpguard.audit import AuditLog
    from mcpguard.pinning.store import Store
    from mcpguard.proxy.pipeline import Pipeline
    from mcpguard.proxy.session import Session
    from mcpguard.proxy.steps import default_steps
    from mcpguard.remote.auth import NoAuth

    store = Store.open(remote.paths)
    endpoint = remote.endpoint
    command = pinned_command(endpoint.identity, trust_issuer)
    auth = remote.auth(StoreBoard(store, client, name))
    if isinstance(auth, str):
        print(f"mcpguard: {auth}", file=sys.stderr)
        return 2
    session = Session(store, client=client, name=name, command=command)
    oauth = None if isinstance(auth, NoAuth) else auth
    if oauth is not None:
        issuer = oauth.stored_issuer() or recorded_issuer(store, session.server.id, command)
        session.command = pinned_command(endpoint.identity, trust_issuer, issuer)

    def connect(
        deliver: Deliver, on_new_session: Callable[[], None], reroute: Callable[[Outgoing], bool]
    ) -> HttpTransport:
        return remote.transport(auth, deliver, on_new_session=on_new_session, reroute=reroute)

    pipeline = Pipeline(session, default_steps())
    bridge = Bridge(pipeline, AuditLog(store), connect, max_line=remote.max_line, signin=oauth)
    if oauth is not None:
        identity = endpoint.identity
        oauth.on_issuer = lambda issuer: bridge.pin_command(pinned_command(identity, trust_issuer, issuer))
    return bridge.run()


def pinned_command(identity: Sequence[str], trust_issuer: str | None, issuer: str | None = None) -> list[str]:
    """The "command line" pinned for a remote server: its URL identity, any issuer trusted by hand, its
    authorization server.

    ``--trust-issuer`` relaxes a security check, so adding, changing or dropping it is a change
    the user must approve, exactly like a changed URL: the tools are held until then. The
    authorization server is where the user's credentials go; a server that moves to another one
    is held the same way (and signing in there is a fresh sign-in: credentials are bound to
    their issuer). A server that needs no authorization has none.
    """
    command = list(identity)
    if trust_issuer:
        command += ["trust-issuer", trust_issuer]
    if issuer:
        command += [AUTHORIZATION_SERVER, issuer]
    return command


def recorded_issuer(store: Store, server_id: int, base: Sequence[str]) -> str | None:
    """The authorization server last pinned for this very URL (and ``--trust-issuer``), if any.

    Used at start when no stored token names one (after ``remote logout``, or with a locked
    keyring): pinning the server without it until the first 401 would flip its identity to
    "changed" and back, and announce a change that is none. Discovery corrects it when it differs.
    """
    from mcpguard.errors import UnknownItem

    try:
        view = store.item(server_id, "command", "")
    except UnknownItem:
        return None
    argv = view.live.definition.get("argv") if view.live is not None else None
    if not isinstance(argv, list) or argv[: len(base)] != list(base) or len(argv) != len(base) + 2:
        return None
    word, issuer = argv[len(base) :]
    return issuer if word == AUTHORIZATION_SERVER and isinstance(issuer, str) else None


class StoreBoard:
    """The tray's side of a sign-in, through the store it polls: the ``signins`` table and its heartbeat.

    The store rather than a file: every process of mcpguard already meets there, the tray already
    polls it, it is 0600 in a 0700 profile, a row is written and removed in one transaction, and
    the tray's heartbeat deletes expired rows in its own.
    """

    def __init__(self, store: Store, client: str, name: str) -> None:
        self.store = store
        self.client = client
        self.name = name

    def tray_alive(self) -> bool:
        return self.store.tray_alive()

    def post(self, host: str, url: str, expires: float) -> int:
        return self.store.post_signin(self.client, self.name, host, url, expires)

    def drop(self, request_id: int) -> None:
        self.store.drop_signin(request_id)


def _oauth(
    endpoint: Endpoint,
    extra: Mapping[str, str],
    paths: AppPaths,
    name: str,
    scope: str | None,
    client_id: str | None,
    client_metadata_url: str | None,
    trust_issuer: str | None,
    board: SignInBoard | None,
) -> NoAuth | OAuthAuth | str:
    """The auth method for this bridge, or a sentence saying which option is wrong.

    A user who passes ``Authorization`` with ``--header`` chose a static credential: no OAuth then.
    """
    from mcpguard.remote.auth import NoAuth
    from mcpguard.remote.oauth.discovery import OAuthError, check_secure
    from mcpguard.remote.oauth.flow import OAuthAuth

    static = any(k.lower() == "authorization" for k in extra)
    if static:
        if scope or client_id or client_metadata_url:
            return "--scope, --client-id and --client-metadata-url cannot be used with an Authorization --header"
        return NoAuth()
    try:
        for url, what in ((client_metadata_url, "--client-metadata-url"), (trust_issuer, "--trust-issuer")):
            if url is not None:
                check_secure(url, what)
    except OAuthError as exc:
        return str(exc)

    def open_secrets() -> SecretStore:
        from mcpguard.secrets.keyring_store import open_store

        return open_store(paths)

    return OAuthAuth(
        endpoint.url,
        name=name,
        store=open_secrets,
        scope=scope,
        client_id=client_id,
        client_metadata_url=client_metadata_url,
        trust_issuer=trust_issuer,
        board=board,
    )


def logout(name: str) -> int:
    """``mcpguard remote logout NAME``: revoke where possible, delete the stored tokens."""
    _skip_httpx_cli()
    from mcpguard.paths import AppPaths
    from mcpguard.remote.oauth.flow import logout as oauth_logout
    from mcpguard.secrets.base import SecretsError
    from mcpguard.secrets.keyring_store import open_store

    try:
        print(oauth_logout(name, open_store(AppPaths.from_env())))
    except SecretsError as exc:
        print(f"mcpguard: {exc}", file=sys.stderr)
        return 1
    return 0


def _skip_httpx_cli() -> None:
    """Keep httpx from importing its command-line client, which the bridge never uses.

    WORKAROUND for httpx 0.28's ``__init__``, which imports ``httpx._main`` (click, rich, pygments)
    whenever they are installed: 90 ms of the bridge's start-up on this machine. A ``None`` in
    ``sys.modules`` makes that import fail the way httpx already handles (``main`` then only prints
    how to install the CLI). Only for this process, and only before httpx is imported at all.
    """
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
