"""The client side of MCP's Streamable HTTP transport (2025-11-25) over httpx, with the HTTP+SSE fallback.

Every message for the server is one POST. A request is answered with one JSON body or an SSE
stream that may carry the server's own requests and notifications before the answer; either way
every message the server sends goes to ``deliver`` (the bridge hands it to the pipeline), in order.
The transport keeps the session (``Mcp-Session-Id``), the negotiated ``MCP-Protocol-Version`` (taken
from the initialize answer as it flows through), resumes a broken answer stream with
``Last-Event-ID``, keeps the optional GET stream open for messages the server starts, and ends the
session with DELETE. A server that only speaks the 2024-11-05 HTTP+SSE transport is detected the way
the spec's backwards-compatibility section describes and used through its event stream instead.
A stateless (2026-07-28) request also carries its method, name and the tool arguments a server
marked with ``x-mcp-header`` as headers (:mod:`mcpguard.remote.param_headers`); the tools whose
marks are invalid are left out of ``tools/list`` answers, as that revision requires.

Two promises the bridge relies on:

- :meth:`HttpTransport.send` never raises for a network or protocol failure: every request it was
  given ends with exactly one answer through ``deliver``, the server's or a JSON-RPC error that says
  why, so a client is never left waiting;
- credentials never leave the endpoint's origin: redirects are followed only within it (and never
  from POST to GET), and the legacy POST endpoint must share it.

When the server forgets the session (404), the transport starts a new one by replaying the client's
``initialize`` itself, then sends the message again; the bridge is told (``on_new_session``) so the
guard re-lists before the next call. A request whose answer stream was lost mid-way is not sent
again (it may have run): it gets an error.
"""

from __future__ import annotations

import itertools
import re
import threading
from contextlib import closing

from mcpguard import logs
from mcpguard.proxy import jsonrpc
from mcpguard.proxy.jsonrpc import DEFAULT_MAX_LINE, HEAD_BYTES, Oversized
from mcpguard.remote import param_headers
from mcpguard.remote.auth import MAX_AUTH_RETRIES, NoAuth
from mcpguard.remote.errors import (
    AuthRequired,
    ConnectFailed,
    HTTPStatusError,
    ProtocolError,
    RedirectRefused,
    RemoteError,
    SessionExpired,
    SignInPending,
)
from mcpguard.remote.sse import Event, SSEDecoder

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from typing import Any, TypeAlias

    import httpx

    from mcpguard.proxy.jsonrpc import Line
    from mcpguard.remote.auth import Auth
    from mcpguard.remote.endpoint import Endpoint

    Deliver: TypeAlias = Callable[[Line | Oversized], None]
    Sink: TypeAlias = Callable[[Line | Oversized], None]

log = logs.get(__name__)

SESSION_HEADER = "Mcp-Session-Id"
VERSION_HEADER = "MCP-Protocol-Version"
LAST_EVENT_HEADER = "Last-Event-ID"
ACCEPT_POST = "application/json, text/event-stream"
ACCEPT_STREAM = "text/event-stream"

DEFAULT_TIMEOUT = 120.0
"""Seconds to connect, and the longest silence while an answer is due (servers ping SSE streams)."""
CONNECT_TIMEOUT = 10.0
"""At most this long to connect, whatever ``timeout`` says: an unreachable host fails fast."""
CLOSE_TIMEOUT = 3.0
"""The DELETE at exit gets this long: a client that went away should not wait on a slow server."""
MAX_REDIRECTS = 5
RESUME_ATTEMPTS = 3
"""Reconnections in a row that bring no event before a broken answer stream is given up."""
DEFAULT_RETRY = 1.0
"""Seconds before resuming a stream when the server named no ``retry``."""
BACKOFF_START = 0.5
BACKOFF_MAX = 30.0
"""The GET stream reconnects after 0.5 s, doubling per failure up to this bound."""
MAX_RENEWALS = 3
"""New sessions in a row without one answered request before the transport gives up on the server."""
FALLBACK_STATUSES = frozenset({400, 404, 405})
"""Answers to the first ``initialize`` POST that send the spec's client to the 2024-11-05 transport."""
TRANSPORT_ERROR = -32000
"""JSON-RPC code of the errors mcpguard writes when the server gave no answer (implementation range)."""
MAX_LIST_PAGES = 100
"""Pages of ``tools/list`` read at most when a header mismatch sends the transport to read it again."""

_SESSION_ID = re.compile(r"[\x21-\x7e]+")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class Outgoing:
    """A message (or batch) for the server, looked at once: what must be answered, and how to send it."""

    __slots__ = (
        "data",
        "message",
        "ids",
        "waiting",
        "method",
        "version",
        "name",
        "param_headers",
        "mismatch",
        "retried",
    )

    def __init__(self, data: Line) -> None:
        self.data = data
        self.ids: dict[tuple[str, Any], Any] = {}
        """Request id key -> the id as sent, for every request in the message."""
        self.method: str | None = None
        """The method of a single request or notification; None for a response or a batch."""
        self.version: str | None = None
        """The protocol version a stateless (2026-07-28) request names in its ``_meta``."""
        self.name: str | None = None
        self.param_headers: dict[str, str] = {}
        """The ``Mcp-Param-*`` headers of a stateless ``tools/call``, worked out once before it is sent."""
        self.mismatch: dict[str, Any] | None = None
        """A server's ``HeaderMismatch`` error, held back while the tool list is read again for one retry."""
        self.retried = False
        message: Any
        try:
            message = jsonrpc.parse(data)
        except (ValueError, RecursionError):
            message = None
        self.message = message
        for element in message if isinstance(message, list) else [message]:
            if jsonrpc.is_request(element):
                self.ids[jsonrpc.id_key(element["id"])] = element["id"]
        if isinstance(message, dict) and isinstance(message.get("method"), str):
            self.method = message["method"]
            params = message.get("params")
            meta = params.get("_meta") if isinstance(params, dict) else None
            version = meta.get("io.modelcontextprotocol/protocolVersion") if isinstance(meta, dict) else None
            if isinstance(version, str):
                self.version = version
                name = params.get("name", params.get("uri")) if isinstance(params, dict) else None
                self.name = name if isinstance(name, str) else None
        self.waiting: set[tuple[str, Any]] = set(self.ids)
        """Requests still without an answer; whatever is left when sending fails gets an error."""

    @property
    def is_request(self) -> bool:
        return bool(self.ids)

    def __repr__(self) -> str:
        return f"Outgoing(method={self.method!r}, ids={list(self.ids.values())!r})"


class _Legacy:
    """A session over the 2024-11-05 HTTP+SSE transport: one event stream, a POST endpoint named by it."""

    __slots__ = ("post_url", "response", "chunks", "decoder", "pending", "alive", "thread")

    def __init__(self, post_url: httpx.URL, response: httpx.Response, chunks: Iterator[bytes], decoder: SSEDecoder):
        self.post_url = post_url
        self.response = response
        self.chunks = chunks
        self.decoder = decoder
        self.pending: dict[tuple[str, Any], Any] = {}
        """Requests posted whose answers must still come on the stream."""
        self.alive = True
        self.thread: threading.Thread | None = None


class HttpTransport:
    """One connection to one remote MCP server, shared by the bridge's threads.

    Args:
        endpoint: The checked URL (see :func:`mcpguard.remote.endpoint.check_url`).
        deliver: Called with every message from the server, from whichever thread read it.
        name: The server's name, for messages.
        headers: The user's extra headers, sent with every request to the endpoint.
        timeout: Seconds to connect and the longest silence while an answer is due.
        auth: Adds credentials and answers 401/403 (a later part plugs OAuth in here).
        max_message: The largest message accepted from the server.
        http: An httpx client to use (tests pass one over ``httpx.MockTransport``); it must not
            follow redirects.
        on_new_session: Called after the transport replaced a session the server forgot, before
            any message is sent on the new one.
        reroute: Asked, after a new session was started, whether the message that found the old one
            gone should go back through the guard instead of being sent again as it is (True: the
            caller took it). The bridge takes tool calls back: the server behind the new session
            may offer other tools, and the guard must check them first.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        deliver: Deliver,
        *,
        name: str,
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        auth: Auth | None = None,
        max_message: int = DEFAULT_MAX_LINE,
        http: httpx.Client | None = None,
        on_new_session: Callable[[], None] | None = None,
        reroute: Callable[[Outgoing], bool] | None = None,
    ) -> None:
        import httpx

        from mcpguard import __version__

        self.endpoint = endpoint
        self.name = name
        self.timeout = timeout
        self.max_message = max_message
        self._deliver = deliver
        self._user_headers = dict(headers or {})
        self._auth: Auth = auth if auth is not None else NoAuth()
        self._on_new_session = on_new_session
        self._reroute = reroute
        self._http = http if http is not None else _client(endpoint, timeout, f"mcpguard/{__version__}")
        if self._http.follow_redirects:
            raise ValueError("the transport follows redirects itself, within the endpoint's origin")
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT))

        self._lock = threading.Lock()
        self._recover_lock = threading.Lock()
        self._closed = threading.Event()
        self.mode = "unknown"
        """``unknown`` until the first initialize is answered, then ``streamable`` or ``legacy``."""
        self.session_id: str | None = None
        self.protocol_version: str | None = None
        self.generation = 0
        """Sessions started so far; the GET stream starts over (no Last-Event-ID) when it changes."""
        self._init_message: dict[str, Any] | None = None
        self._session_lost = False
        """The server forgot the session and no new one could be started yet: try again before sending."""
        self._renewals = 0
        """Sessions started since a request was last answered (a server that forgets every session)."""
        self._handshaken = threading.Event()
        """Clear while an initialize waits for its answer's headers: what follows needs its session id."""
        self._handshaken.set()
        self._legacy: _Legacy | None = None
        self._get_thread: threading.Thread | None = None
        self._waiters: dict[tuple[str, Any], list[Any]] = {}
        """Internal requests over the legacy stream: id key -> [event, answer]."""
        self._internal_ids = itertools.count(1)
        self.connected = False
        """Some HTTP answer came back from the server at least once."""
        self.attempted = False
        self._unreachable_reported = False
        self._tool_headers: dict[str, tuple[param_headers.ParamHeader, ...]] = {}
        """Tool name -> the arguments it wants mirrored, from the ``tools/list`` answers that came through."""
        self._rejected_tools: dict[str, str] = {}
        """Tool name -> why its ``x-mcp-header`` annotations are invalid: left out of lists, never called."""

    # -- the bridge's entry points -----------------------------------------------------------------

    def send(self, out: Outgoing) -> None:
        """Send one message; answers and failures come back through ``deliver``. Blocks until it is done.

        For a request "done" means answered (or failed); the bridge calls this on a thread of its own
        for each request, and directly for notifications and responses (a quick 202).
        """
        if self._closed.is_set():
            out.waiting.clear()  # the client has gone: nobody waits for an answer any more
            return
        self.attempted = True
        if out.method == "initialize":
            self._handshaken.clear()
        elif not self._handshaken.is_set():
            self._handshaken.wait(self.timeout)  # a client that did not wait for the initialize answer
        try:
            self._send(out)
        except RemoteError as exc:
            self._fail(out, exc)
        finally:
            if out.method == "initialize":
                self._handshaken.set()

    def close(self) -> None:
        """End the session (DELETE, as the spec asks of a client that leaves) and stop every stream."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._unreachable_reported = True  # a server gone by now is no news worth a warning at exit
        with self._lock:
            sid, mode, legacy = self.session_id, self.mode, self._legacy
        if mode == "streamable" and sid is not None:
            import httpx

            headers = self._headers(None)
            headers.pop("Content-Type", None)
            try:
                response = self._request(
                    "DELETE",
                    self.endpoint.url,
                    headers=headers,
                    timeout=httpx.Timeout(min(self.timeout, CLOSE_TIMEOUT)),
                )
                response.close()
                if response.status_code not in (200, 202, 204, 404, 405):
                    log.info("the server answered HTTP %d to ending the session", response.status_code)
            except RemoteError as exc:
                log.info("could not end the session with the server: %s", exc)
        if legacy is not None:
            legacy.alive = False
            _close_quietly(legacy.response)
        self._http.close()

    # -- sending -----------------------------------------------------------------------------------

    def _send(self, out: Outgoing) -> None:
        if out.method == "initialize":
            self._note_initialize(out)
        elif self._session_lost:
            self._new_session(None)
        if self.mode == "legacy":
            self._legacy_send(out, recover=True)
            return
        if out.method == "tools/call" and out.version is not None and not self._prepare_call(out):
            return
        try:
            self._post_checked(out)
        except SessionExpired as exc:
            self._new_session(exc.session_id)
            if self._rerouted(out):
                return
            self._post_checked(out)
        except HTTPStatusError as exc:
            if not (exc.status in FALLBACK_STATUSES and out.method == "initialize" and self.mode == "unknown"):
                raise
            if not self._open_legacy(exc):
                if exc.answer is not None and len(out.waiting) == 1:  # the server's own words, if it had some
                    key = out.waiting.pop()
                    self._deliver(jsonrpc.encode({"jsonrpc": "2.0", "id": out.ids[key], "error": exc.answer}))
                    return
                raise
            self._legacy_send(out, recover=False)
            return
        if out.method == "notifications/initialized":
            self.start_listening()

    def _post_checked(self, out: Outgoing) -> None:
        """POST a message; a tool call the server refused for its headers gets the spec's one retry."""
        self._post(out, self._deliver)
        if out.mismatch is not None:
            self._retry_call(out)

    def _rerouted(self, out: Outgoing) -> bool:
        if self._reroute is None or out.method == "initialize" or not self._reroute(out):
            return False
        out.waiting.clear()  # it is the guard's again; if it is sent, it comes back as a new message
        return True

    def _note_initialize(self, out: Outgoing) -> None:
        """A client's (new) handshake: it starts a new session, and is kept to start one again after a 404."""
        with self._lock:
            self._init_message = out.message if isinstance(out.message, dict) else None
            if self.mode == "streamable":
                self.session_id = None
                self.protocol_version = None

    def _post(self, out: Outgoing, sink: Sink) -> None:
        """POST to the MCP endpoint and read the answer; raises when something is left unanswered."""
        for attempt in range(MAX_AUTH_RETRIES + 1):
            headers = self._headers(out)
            sid = headers.get(SESSION_HEADER)
            response = self._request(
                "POST", self.endpoint.url, headers=headers, content=out.data, timeout=self._timeout
            )
            try:
                status = response.status_code
                if status in (401, 403):
                    if attempt < MAX_AUTH_RETRIES and self._auth.challenged(response):
                        continue
                    raise _auth_error(response, self.name, self._auth)
                if status == 404 and sid is not None:
                    raise SessionExpired(
                        f"the remote server {self.name!r} no longer knows the session (HTTP 404)", session_id=sid
                    )
                if not 200 <= status < 300:
                    self._status_error(response, out, sink)
                    return
                if out.method == "initialize":
                    self._note_session(response)
                elif out.is_request:
                    self._renewals = 0
                if not out.is_request:
                    return  # a notification or a response: 202 Accepted, nothing to read
                ctype = _content_type(response)
                if ctype == "application/json":
                    self._read_json(response, out, sink)
                elif ctype == "text/event-stream":
                    self._read_answer_stream(response, out, sink)
                elif status == 202:
                    raise ProtocolError(f"the remote server {self.name!r} accepted the request without answering it")
                else:
                    raise ProtocolError(
                        f"the remote server {self.name!r} answered with {ctype or 'no content type'}, "
                        "not JSON or an event stream; is the URL the server's MCP endpoint?"
                    )
                return
            finally:
                response.close()

    def _headers(self, out: Outgoing | None) -> dict[str, str]:
        headers = {"Accept": ACCEPT_POST, "Content-Type": "application/json"}
        headers.update(self._user_headers)
        headers.update(self._auth.headers())
        with self._lock:
            sid, version = self.session_id, self.protocol_version
        if out is not None and out.method == "initialize":
            return headers  # the handshake carries neither: it negotiates them
        if sid is not None:
            headers[SESSION_HEADER] = sid
        if out is not None and out.version is not None:
            version = out.version
            if out.method is not None and _header_safe(out.method):
                headers["Mcp-Method"] = out.method
            if out.name is not None:
                headers["Mcp-Name"] = param_headers.encode_value(out.name)
            headers.update(out.param_headers)
        if version is not None:
            headers[VERSION_HEADER] = version
        return headers

    def _note_session(self, response: httpx.Response) -> None:
        sid = response.headers.get(SESSION_HEADER)
        if sid is not None and not _SESSION_ID.fullmatch(sid):
            raise ProtocolError(f"the remote server {self.name!r} sent a malformed session id")
        with self._lock:
            self.mode = "streamable"
            self.session_id = sid
            self.generation += 1
            self._session_lost = False
        self._handshaken.set()

    def _status_error(self, response: httpx.Response, out: Outgoing, sink: Sink) -> None:
        """A 4xx/5xx: the server's own JSON-RPC error when it sent one for a single request, else raise."""
        status = response.status_code
        answer: dict[str, Any] | None = None
        if len(out.waiting) == 1 and _content_type(response) == "application/json":
            body = self._read_body(response)
            try:
                message = jsonrpc.parse(body) if not isinstance(body, Oversized) else None
            except (ValueError, RecursionError):
                message = None
            if isinstance(message, dict) and isinstance(message.get("error"), dict):
                answer = message["error"]
        fallback = status in FALLBACK_STATUSES and out.method == "initialize" and self.mode == "unknown"
        if answer is not None and not fallback:
            if answer.get("code") == param_headers.HEADER_MISMATCH and self._may_retry(out):
                out.mismatch = answer
                return
            key = out.waiting.pop()
            sink(jsonrpc.encode({"jsonrpc": "2.0", "id": out.ids[key], "error": answer}))
            return
        reason = f" {response.reason_phrase}" if response.reason_phrase else ""
        error = HTTPStatusError(f"the remote server {self.name!r} answered HTTP {status}{reason}", status)
        error.answer = answer
        raise error

    # -- mirrored tool parameters (x-mcp-header, 2026-07-28) -------------------------------------------

    def _prepare_call(self, out: Outgoing) -> bool:
        """Work out a stateless tool call's ``Mcp-Param-*`` headers before it is sent.

        Returns False when the call was answered here instead: its tool was left out of the list for
        invalid annotations (the spec's rejection, kept for calls too: fail closed), or an argument the
        server wants mirrored has a value no header can carry, which the server would refuse anyway.
        """
        params = out.message.get("params") if isinstance(out.message, dict) else None
        arguments = params.get("arguments") if isinstance(params, dict) else None
        with self._lock:
            reason = self._rejected_tools.get(out.name) if out.name is not None else None
            specs = self._tool_headers.get(out.name, ()) if out.name is not None else ()
        if reason is not None:
            text = (
                f"mcpguard does not call the tool {out.name!r} of the remote server {self.name!r}: its definition "
                f"is invalid ({reason}), so it was left out of the tool list"
            )
        else:
            try:
                out.param_headers = param_headers.call_headers(specs, arguments)
            except param_headers.UnmirrorableValue as exc:
                text = (
                    f"mcpguard cannot send this call of the tool {out.name!r} to the remote server {self.name!r}: {exc}"
                )
            else:
                return True
        log.warning("%s", text)
        for key in list(out.waiting):
            out.waiting.discard(key)
            self._deliver(jsonrpc.encode(jsonrpc.error_response(out.ids[key], jsonrpc.INVALID_PARAMS, text)))
        return False

    def _may_retry(self, out: Outgoing) -> bool:
        return out.method == "tools/call" and out.version is not None and not out.retried

    def _retry_call(self, out: Outgoing) -> None:
        """The server found the call's headers wrong: read its tool list again and retry once if they change.

        The spec's client behaviour (a SHOULD): a tool's ``inputSchema`` may have changed since it was
        listed, or the tool was never listed through this bridge. The body is sent again unchanged,
        the one the guard let through; only its headers may differ.
        """
        answer, out.mismatch, out.retried = out.mismatch, None, True
        before = out.param_headers
        try:
            self._relist(out)
        except RemoteError as exc:
            log.info("could not read the tool list again after a header mismatch: %s", exc)
        else:
            if not self._prepare_call(out):
                return
            if out.param_headers != before:
                log.info(
                    "the remote server %r asks for other headers for the tool %r; sending again", self.name, out.name
                )
                self._post(out, self._deliver)
                return
        for key in list(out.waiting):
            out.waiting.discard(key)
            self._deliver(jsonrpc.encode({"jsonrpc": "2.0", "id": out.ids[key], "error": answer}))

    def _relist(self, out: Outgoing) -> None:
        """Read every page of the tool list with the call's ``_meta`` envelope; ``_take`` learns from it."""
        params = out.message.get("params") if isinstance(out.message, dict) else None
        meta = params.get("_meta") if isinstance(params, dict) else None
        cursor: Any = None
        for _ in range(MAX_LIST_PAGES):
            list_params: dict[str, Any] = {"_meta": meta}
            if cursor is not None:
                list_params["cursor"] = cursor
            message = {
                "jsonrpc": "2.0",
                "id": f"mcpguard-list-{next(self._internal_ids)}",
                "method": "tools/list",
                "params": list_params,
            }
            result = self._internal_request(message).get("result")
            cursor = result.get("nextCursor") if isinstance(result, dict) else None
            if not isinstance(cursor, str):
                return

    def _learn_tools(self, data: Line, answer: dict[str, Any]) -> Line:
        """Learn a ``tools/list`` page's mirrored parameters; leave out the tools whose annotations are invalid.

        A tool listed again replaces what was known of it; tools on other pages (or gone) keep theirs,
        so a call between two pages of a re-list is not sent without its headers. The answer's bytes
        are passed on untouched unless a tool must be left out, as the spec requires.
        """
        result = answer.get("result")
        tools = result.get("tools") if isinstance(result, dict) else None
        if not isinstance(tools, list):
            return data
        screened = param_headers.screen_tools(tools)
        with self._lock:
            for name in screened.headers:
                self._rejected_tools.pop(name, None)
            self._tool_headers.update(screened.headers)
            news = {n: r for n, r in screened.rejected.items() if self._rejected_tools.get(n) != r}
            for name in screened.rejected:
                self._tool_headers.pop(name, None)
            self._rejected_tools.update(screened.rejected)
        for name, reason in news.items():
            log.warning("left the tool %r of the remote server %r out of its tool list: %s", name, self.name, reason)
        if not screened.rejected:
            return data
        whole = jsonrpc.parse(data)
        for element in whole if isinstance(whole, list) else [whole]:
            found = element.get("result") if jsonrpc.is_response(element) else None
            if isinstance(found, dict) and isinstance(found.get("tools"), list):
                found["tools"] = param_headers.screen_tools(found["tools"]).kept
        return jsonrpc.encode(whole)

    # -- reading answers -----------------------------------------------------------------------------

    def _read_json(self, response: httpx.Response, out: Outgoing, sink: Sink) -> None:
        body = self._read_body(response)
        if isinstance(body, Oversized):
            self._oversized(body, out.waiting, sink, known=out, whole_body=True)
        else:
            self._take(body, out, sink)
        if out.waiting:
            raise ProtocolError(f"the remote server {self.name!r} answered with a message that is not the answer")

    def _read_answer_stream(self, response: httpx.Response, out: Outgoing, sink: Sink) -> None:
        """Read an SSE answer; resume it with ``Last-Event-ID`` when it breaks before the answer."""
        decoder = SSEDecoder(self.max_message)
        self._pump(response, decoder, out, sink)
        attempts = 0
        while out.waiting:
            if not decoder.last_event_id:
                raise ProtocolError(f"the remote server {self.name!r} closed the answer stream before answering")
            if attempts >= RESUME_ATTEMPTS or self._closed.is_set():
                raise ProtocolError(
                    f"the answer stream of the remote server {self.name!r} broke and could not be resumed"
                )
            delay = decoder.retry / 1000 if decoder.retry is not None else DEFAULT_RETRY
            if self._closed.wait(delay):
                continue
            attempts += 1
            headers = self._headers(None)
            headers["Accept"] = ACCEPT_STREAM
            headers.pop("Content-Type", None)
            headers[LAST_EVENT_HEADER] = decoder.last_event_id
            try:
                resumed = self._request("GET", self.endpoint.url, headers=headers, timeout=self._timeout)
            except ConnectFailed as exc:
                log.info("resuming the answer stream failed: %s", exc)
                continue
            with closing(resumed):
                if resumed.status_code == 404 and SESSION_HEADER in headers:
                    raise ProtocolError(f"the remote server {self.name!r} ended the session while answering (HTTP 404)")
                if not 200 <= resumed.status_code < 300 or _content_type(resumed) != "text/event-stream":
                    raise ProtocolError(
                        f"the remote server {self.name!r} closed the answer stream before answering, and "
                        f"resuming it failed (HTTP {resumed.status_code})"
                    )
                if self._pump(resumed, decoder, out, sink):
                    attempts = 0

    def _pump(self, response: httpx.Response, decoder: SSEDecoder, out: Outgoing | None, sink: Sink) -> bool:
        """Feed one event stream to ``sink`` until it ends or breaks; True if any event came.

        A stream that answered everything is still read to its end, so that its connection can be
        used again (over TLS a new one costs a handshake); the answers are already delivered.
        """
        got = False
        try:
            for chunk in self._chunks(response):
                for item in decoder.feed(chunk):
                    got = True
                    if isinstance(item, Oversized):
                        self._oversized(item, out.waiting if out is not None else set(), sink, known=out)
                    elif item.event == "message":
                        self._take(item.data, out, sink)
                    else:
                        log.info("ignored an event of type %r from the server", item.event[:40])
        except RemoteError as exc:
            log.info("an event stream from the server broke: %s", exc)
        return got

    def _take(self, data: Line, out: Outgoing | None, sink: Sink) -> None:
        """One message from the server: note what it answers, then hand it on (it may be consumed)."""
        if jsonrpc.is_blank(data):
            return
        answered = _answers(data)
        if out is not None and answered:
            for key, message in answered.items():
                if key in out.waiting:
                    out.waiting.discard(key)
                    if out.method == "initialize":
                        self._note_version(message)
                    elif out.method == "tools/list" and out.version is not None:
                        data = self._learn_tools(data, message)
        sink(data)

    def _note_version(self, message: dict[str, Any]) -> None:
        result = message.get("result")
        version = result.get("protocolVersion") if isinstance(result, dict) else None
        if isinstance(version, str) and _header_safe(version):
            with self._lock:
                self.protocol_version = version

    def _oversized(
        self,
        item: Oversized,
        waiting: set[tuple[str, Any]],
        sink: Sink,
        known: Outgoing | None,
        whole_body: bool = False,
    ) -> None:
        """An answer too large to check: the request gets an error; anything else is dropped by the pipeline."""
        msg_id = item.message_id()
        key = jsonrpc.id_key(msg_id)
        if msg_id is None and whole_body and len(waiting) == 1 and known is not None:
            key = next(iter(waiting))  # a JSON body answers its one request, wherever its id is
        if key in waiting and known is not None:
            waiting.discard(key)
            log.warning("dropped a %d-byte answer from the remote server: over the size limit", item.size)
            sink(
                jsonrpc.encode(
                    jsonrpc.error_response(
                        known.ids[key],
                        jsonrpc.INTERNAL_ERROR,
                        f"mcpguard withheld the server's answer: at {item.size} bytes it is over the size limit "
                        "(MCPGUARD_MAX_MESSAGE_BYTES)",
                    )
                )
            )
            return
        sink(item)

    def _read_body(self, response: httpx.Response) -> bytearray | Oversized:
        """The whole body, or what is left of it when it is over the size limit (never held whole then)."""
        body = bytearray()
        size = 0
        head = b""
        for chunk in self._chunks(response):
            size += len(chunk)
            if size > self.max_message:
                if not head:
                    head = bytes(body[:HEAD_BYTES]) + chunk[: max(0, HEAD_BYTES - len(body))]
                    body = bytearray()
                continue
            body += chunk
        return Oversized(size, head) if head else body  # a bytearray: a large one is consumed by the pipeline

    def _chunks(self, response: httpx.Response) -> Iterator[bytes]:
        """The body's bytes, with httpx's errors turned into sentences."""
        import httpx

        try:
            yield from response.iter_bytes()
        except httpx.ReadTimeout:
            raise ProtocolError(
                f"the remote server {self.name!r} sent nothing for {self.timeout:g} s while an answer was due"
            ) from None
        except (httpx.TransportError, httpx.StreamError) as exc:
            raise ProtocolError(f"the connection to the remote server {self.name!r} broke: {_reason(exc)}") from None

    # -- HTTP ----------------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        url: httpx.URL,
        *,
        headers: dict[str, str],
        content: Line | None = None,
        timeout: httpx.Timeout,
    ) -> httpx.Response:
        """Send one request, following redirects only within the endpoint's origin; the body is not read."""
        import httpx

        for _ in range(MAX_REDIRECTS + 1):
            try:
                body = content if content is None or isinstance(content, bytes) else bytes(content)
                request = self._http.build_request(method, url, headers=headers, content=body, timeout=timeout)
                response = self._http.send(request, stream=True)
            except RuntimeError:  # the client was closed under us: the bridge is stopping
                raise ProtocolError("the connection to the remote server was closed") from None
            except httpx.TimeoutException:
                raise self._unreachable(f"no answer within {self.timeout:g} s") from None
            except httpx.TransportError as exc:
                raise self._unreachable(_reason(exc)) from None
            self.connected = True
            self._unreachable_reported = False
            location = response.headers.get("Location")
            if response.status_code not in _REDIRECTS or location is None:
                return response
            response.close()
            try:
                target = response.url.join(location)
            except httpx.InvalidURL:
                raise RedirectRefused(f"the remote server {self.name!r} redirects to an invalid URL") from None
            if not self.endpoint.same_origin(target):
                raise RedirectRefused(
                    f"the remote server {self.name!r} redirects to {_display(target)}, another origin; mcpguard does "
                    "not send your messages and credentials there. If that is the server's address, use it as the URL"
                )
            if method != "GET" and response.status_code not in (307, 308):
                raise RedirectRefused(
                    f"the remote server {self.name!r} answers {method} with a redirect that would turn it into a GET "
                    f"(HTTP {response.status_code} to {_display(target)}); use that URL instead"
                )
            url = target
        raise RedirectRefused(f"the remote server {self.name!r} redirects more than {MAX_REDIRECTS} times")

    def _unreachable(self, reason: str) -> ConnectFailed:
        error = ConnectFailed(f"cannot reach the remote server {self.name!r} at {self.endpoint.display}: {reason}")
        if not self._unreachable_reported:
            self._unreachable_reported = True
            log.warning("%s", error)
        return error

    # -- failures ------------------------------------------------------------------------------------

    def _fail(self, out: Outgoing, exc: RemoteError) -> None:
        """Answer every request of ``out`` still waiting with an error naming the cause; log it."""
        if self._closed.is_set():
            out.waiting.clear()  # the client has gone: no one to answer, nothing worth a warning
            return
        if isinstance(exc, SignInPending):
            log.info("%s", exc)
            message = f"{exc}."
        else:
            if not isinstance(exc, ConnectFailed):  # that one is logged once per outage, where it happens
                log.warning("%s", exc)
            text = str(exc)
            message = f"mcpguard got no answer from the server. {text[0].upper()}{text[1:]}."
        if not out.waiting:
            return
        for key in list(out.waiting):
            out.waiting.discard(key)
            self._deliver(jsonrpc.encode(jsonrpc.error_response(out.ids[key], TRANSPORT_ERROR, message)))

    # -- sessions ------------------------------------------------------------------------------------

    def _new_session(self, lost: str | None) -> None:
        """Replace a session the server forgot: replay the client's initialize, then its initialized notice.

        Only one thread does it; others that saw the same 404 find the new session and go on.

        Raises:
            SessionExpired: No initialize to replay, or the new handshake failed or negotiated
                another protocol version (the client would speak the wrong one).
        """
        with self._recover_lock:
            with self._lock:
                if not self._session_lost and self.session_id != lost:
                    return  # another thread already started the new session
                self._session_lost = True  # the old id stays until the new one: others then wait here
                init = self._init_message
                previous = self.protocol_version
            if init is None:
                raise SessionExpired(f"the remote server {self.name!r} ended the session", session_id=lost)
            if self._renewals >= MAX_RENEWALS:
                raise SessionExpired(
                    f"the remote server {self.name!r} forgets every session it starts (a load balancer without "
                    "sticky sessions?); restart the client to try again",
                    session_id=lost,
                )
            self._renewals += 1
            log.warning("the remote server %r ended the session; starting a new one", self.name)
            message = {**init, "id": f"mcpguard-reinit-{next(self._internal_ids)}"}
            answer = self._internal_request(message)
            result = answer.get("result")
            if not isinstance(result, dict):
                raise SessionExpired(
                    f"the remote server {self.name!r} ended the session and refused a new one: {_error_text(answer)}",
                    session_id=lost,
                )
            if previous is not None and result.get("protocolVersion") != previous:
                raise SessionExpired(
                    f"the remote server {self.name!r} ended the session, and the new one speaks protocol version "
                    f"{result.get('protocolVersion')!r} instead of {previous!r}; restart the client",
                    session_id=lost,
                )
            notice = Outgoing(jsonrpc.encode(jsonrpc.notification("notifications/initialized")))
            if self.mode == "legacy":
                self._legacy_send(notice, recover=False)
            else:
                self._post(notice, self._deliver)
            with self._lock:
                self._session_lost = False
            if self._on_new_session is not None:  # under the lock: no message overtakes the guard's news
                self._on_new_session()
        self.start_listening()

    def _internal_request(self, message: dict[str, Any]) -> dict[str, Any]:
        """A request of the transport's own; its answer is returned, never delivered."""
        out = Outgoing(jsonrpc.encode(message))
        key = jsonrpc.id_key(message["id"])
        if self.mode == "legacy":
            slot: list[Any] = [threading.Event(), None]
            with self._lock:
                self._waiters[key] = slot
            try:
                self._legacy_send(out, recover=False)
                if not slot[0].wait(self.timeout) or slot[1] is None:
                    raise SessionExpired(f"the remote server {self.name!r} did not answer a new initialize")
            finally:
                with self._lock:
                    self._waiters.pop(key, None)
            answer: dict[str, Any] = slot[1]
            return answer
        captured: list[dict[str, Any]] = []

        def capture(data: Line | Oversized) -> None:
            if not isinstance(data, Oversized):
                found = _answers(data).get(key)
                if found is not None:
                    captured.append(found)
                    return
            self._deliver(data)

        self._post(out, capture)
        if not captured:
            raise SessionExpired(f"the remote server {self.name!r} did not answer a new initialize")
        return captured[0]

    # -- the GET stream ------------------------------------------------------------------------------

    def start_listening(self) -> None:
        """Open the optional GET stream for messages the server starts (once the handshake is done)."""
        with self._lock:
            if self.mode != "streamable" or self.session_id is None or self._closed.is_set():
                return
            if self._get_thread is not None and self._get_thread.is_alive():
                return
            self._get_thread = threading.Thread(target=self._listen, name="remote-get-stream", daemon=True)
            self._get_thread.start()

    def _listen(self) -> None:
        try:
            self._listen_loop()
        except Exception:
            if not self._closed.is_set():  # closing the client under a stream may fail it in any way
                log.exception("the event stream from the remote server failed")

    def _listen_loop(self) -> None:
        failures = 0
        last_id = ""
        retry: int | None = None
        generation = -1
        while not self._closed.is_set():
            with self._lock:
                sid, current, mode = self.session_id, self.generation, self.mode
            if sid is None or mode != "streamable":
                return
            if current != generation:
                generation, last_id = current, ""
            headers = self._headers(None)
            headers["Accept"] = ACCEPT_STREAM
            headers.pop("Content-Type", None)
            if last_id:
                headers[LAST_EVENT_HEADER] = last_id
            try:
                response = self._request("GET", self.endpoint.url, headers=headers, timeout=self._timeout)
            except RemoteError as exc:
                failures += 1
                log.info("the event stream could not be opened: %s", exc)
            else:
                with closing(response):
                    status = response.status_code
                    if status == 405:
                        log.info("the remote server offers no event stream for messages it starts (HTTP 405)")
                        return
                    if status == 404:
                        try:
                            self._new_session(sid)
                        except RemoteError as exc:
                            log.info("the event stream found the session gone: %s", exc)
                            failures += 1
                        else:
                            continue
                    elif status in (401, 403):
                        if not self._auth.challenged(response):
                            log.info("the remote server refused the event stream (HTTP %d)", status)
                            return
                        continue
                    elif 200 <= status < 300 and _content_type(response) == "text/event-stream":
                        decoder = SSEDecoder(self.max_message)
                        decoder.last_event_id = last_id
                        if self._pump(response, decoder, None, self._deliver):
                            failures = 0
                        last_id = decoder.last_event_id
                        retry = decoder.retry if decoder.retry is not None else retry
                    else:
                        failures += 1
                        log.info("the event stream was refused (HTTP %d)", status)
            if retry is not None and not failures:
                delay = retry / 1000
            else:
                delay = min(BACKOFF_START * 2 ** min(failures - 1, 16), BACKOFF_MAX) if failures else BACKOFF_START
            self._closed.wait(delay)

    # -- the 2024-11-05 HTTP+SSE transport -----------------------------------------------------------

    def _open_legacy(self, first: HTTPStatusError) -> bool:
        """Try the old transport after the first initialize POST failed: GET the URL, wait for ``endpoint``."""
        headers = self._headers(None)
        headers["Accept"] = ACCEPT_STREAM
        headers.pop("Content-Type", None)
        headers.pop(SESSION_HEADER, None)
        headers.pop(VERSION_HEADER, None)
        try:
            response = self._request("GET", self.endpoint.url, headers=headers, timeout=self._timeout)
        except RemoteError as exc:
            log.info("the old HTTP+SSE transport is not there either: %s", exc)
            return False
        if response.status_code != 200 or _content_type(response) != "text/event-stream":
            response.close()
            return False
        decoder = SSEDecoder(self.max_message)
        chunks = self._chunks(response)
        early: list[Event | Oversized] = []
        post_url: httpx.URL | None = None
        try:
            for chunk in chunks:
                for item in decoder.feed(chunk):
                    if post_url is None and isinstance(item, Event) and item.event == "endpoint":
                        post_url = self._legacy_endpoint(response, item.data)
                    else:
                        early.append(item)
                if post_url is not None:
                    break
        except RedirectRefused:
            response.close()
            raise
        except RemoteError as exc:
            log.info("the old HTTP+SSE transport's stream broke: %s", exc)
        if post_url is None:
            response.close()
            return False
        legacy = _Legacy(post_url, response, chunks, decoder)
        with self._lock:
            self._legacy = legacy
            self.mode = "legacy"
            self.session_id = None
            self.generation += 1
        log.info("the remote server %r speaks the 2024-11-05 HTTP+SSE transport (HTTP %d)", self.name, first.status)
        for item in early:
            self._legacy_event(legacy, item)
        legacy.thread = threading.Thread(target=self._legacy_reader, args=(legacy,), name="remote-sse", daemon=True)
        legacy.thread.start()
        return True

    def _legacy_endpoint(self, response: httpx.Response, data: Line) -> httpx.URL:
        import httpx

        text = bytes(data).decode("utf-8", "replace").strip()
        try:
            target = response.url.join(text)
        except httpx.InvalidURL:
            raise ProtocolError(f"the remote server {self.name!r} named an invalid message endpoint") from None
        if not self.endpoint.same_origin(target):
            raise RedirectRefused(
                f"the remote server {self.name!r} wants messages posted to {_display(target)}, another origin; "
                "mcpguard does not send them there"
            )
        return target

    def _legacy_send(self, out: Outgoing, *, recover: bool) -> None:
        legacy = self._legacy
        if legacy is None or not legacy.alive:
            if not recover:
                raise ProtocolError(f"the event stream of the remote server {self.name!r} is closed")
            if self._reopen_legacy(out) and self._rerouted(out):
                return
            legacy = self._legacy
            assert legacy is not None
        with self._lock:
            legacy.pending.update((key, out.ids[key]) for key in out.waiting)
        try:
            for attempt in range(MAX_AUTH_RETRIES + 1):
                headers = self._headers(None)
                headers.pop(SESSION_HEADER, None)
                headers.pop(VERSION_HEADER, None)
                response = self._request(
                    "POST", legacy.post_url, headers=headers, content=out.data, timeout=self._timeout
                )
                with closing(response):
                    status = response.status_code
                    if status in (401, 403):
                        if attempt < MAX_AUTH_RETRIES and self._auth.challenged(response):
                            continue
                        raise _auth_error(response, self.name, self._auth)
                    if status == 404 and recover:
                        legacy.alive = False
                        _close_quietly(legacy.response)
                        with self._lock:
                            for key in out.waiting:
                                legacy.pending.pop(key, None)
                        self._legacy_send(out, recover=True)
                        return
                    if not 200 <= status < 300:
                        reason = f" {response.reason_phrase}" if response.reason_phrase else ""
                        raise HTTPStatusError(f"the remote server {self.name!r} answered HTTP {status}{reason}", status)
                break
        except RemoteError:
            with self._lock:
                for key in out.waiting:
                    legacy.pending.pop(key, None)
            raise
        out.waiting.clear()  # the answers come on the stream; if it breaks, the reader answers with errors

    def _reopen_legacy(self, out: Outgoing) -> bool:
        """The stream of an old-transport session ended: open a new one and replay the handshake.

        Returns True when this call replayed the handshake (a new session the guard was told of).
        """
        with self._recover_lock:
            legacy = self._legacy
            if legacy is not None and legacy.alive:
                return False
            if not self._open_legacy(HTTPStatusError("the event stream ended", 404)):
                raise ProtocolError(f"the remote server {self.name!r} closed its event stream and did not reopen it")
        if out.method == "initialize":
            return False
        with self._lock:
            self._session_lost = True
        self._new_session(None)
        return True

    def _legacy_reader(self, legacy: _Legacy) -> None:
        try:
            for chunk in legacy.chunks:
                for item in legacy.decoder.feed(chunk):
                    self._legacy_event(legacy, item)
        except RemoteError as exc:
            if not self._closed.is_set():
                log.info("the event stream of the remote server broke: %s", exc)
        except Exception:
            log.exception("reading the event stream of the remote server failed")
        finally:
            legacy.alive = False
            _close_quietly(legacy.response)
            with self._lock:
                pending, legacy.pending = legacy.pending, {}
                waiters = list(self._waiters.values())
            for slot in waiters:
                slot[0].set()
            if pending and not self._closed.is_set():
                out = Outgoing(b"[]")
                out.ids = pending
                out.waiting = set(pending)
                self._fail(out, ProtocolError(f"the remote server {self.name!r} closed its event stream"))

    def _legacy_event(self, legacy: _Legacy, item: Event | Oversized) -> None:
        if isinstance(item, Oversized):
            with self._lock:
                waiting = set(legacy.pending)
            known = Outgoing(b"[]")
            known.ids = dict(legacy.pending)
            before = set(waiting)
            self._oversized(item, waiting, self._deliver, known=known)
            with self._lock:
                for key in before - waiting:
                    legacy.pending.pop(key, None)
            return
        if item.event != "message" or jsonrpc.is_blank(item.data):
            return
        answered = _answers(item.data)
        for key, message in answered.items():
            with self._lock:
                slot = self._waiters.get(key)
                legacy.pending.pop(key, None)
            if slot is not None:
                slot[1] = message
                slot[0].set()
                return
        self._deliver(item.data)


# -- helpers ---------------------------------------------------------------------------------------


def _client(endpoint: Endpoint, timeout: float, agent: str) -> httpx.Client:
    """The httpx client for one endpoint; redirects are the transport's business.

    An http endpoint is on this machine (see :mod:`mcpguard.remote.endpoint`) and every request stays
    on its origin, so neither TLS nor a proxy is ever involved: the environment's proxy settings are
    not read (loopback traffic must not leave through a proxy) and no CA bundle is loaded, which
    saves some 30 ms of start-up. The TLS context given instead trusts nothing, so that if TLS were
    ever reached it would fail closed.
    """
    import httpx

    if endpoint.origin[0] == "http":
        import ssl

        nothing_trusted = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        return httpx.Client(
            follow_redirects=False,
            timeout=timeout,
            headers={"User-Agent": agent},
            verify=nothing_trusted,
            trust_env=False,
        )
    return httpx.Client(follow_redirects=False, timeout=timeout, headers={"User-Agent": agent})


def _answers(data: Line) -> dict[tuple[str, Any], dict[str, Any]]:
    """The responses in a message (or batch), by id key; empty for anything else or for non-JSON."""
    try:
        message = jsonrpc.parse(data)
    except (ValueError, RecursionError):
        return {}
    found: dict[tuple[str, Any], dict[str, Any]] = {}
    for element in message if isinstance(message, list) else [message]:
        if jsonrpc.is_response(element):
            found[jsonrpc.id_key(element["id"])] = element
    return found


def _content_type(response: httpx.Response) -> str:
    value: str = response.headers.get("Content-Type", "")
    return value.partition(";")[0].strip().lower()


def _header_safe(value: str) -> bool:
    return value.isascii() and value.isprintable() and len(value) < 1024


def _auth_error(response: httpx.Response, name: str, auth: object = None) -> AuthRequired:
    status = response.status_code
    failure = getattr(auth, "failure", None)  # an auth method that tried says why it could not
    if isinstance(failure, str) and failure:
        if getattr(auth, "signin_pending", False):
            return SignInPending(failure, status)
        return AuthRequired(failure, status)
    if status == 401:
        text = (
            f"the remote server {name!r} requires authorization (HTTP 401) and refused the credential passed "
            "with --header 'Authorization=Bearer ...'; leave that header out to sign in with OAuth instead"
        )
    else:
        text = f"the remote server {name!r} refused the credentials it was given (HTTP 403 Forbidden)"
    return AuthRequired(text, status)


def _error_text(answer: dict[str, Any]) -> str:
    error = answer.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])[:200]
    return "no result"


def _reason(exc: Exception) -> str:
    """What went wrong, in words: httpx's message, or the name of the error when it has none."""
    text = str(exc).strip()
    if not text and exc.__context__ is not None:
        text = str(exc.__context__).strip()
    return text[:300] or type(exc).__name__


def _display(url: httpx.URL) -> str:
    """A URL for messages: scheme, host, port and path only (a query may hold a key)."""
    return str(url.copy_with(query=None, fragment=None))


def _close_quietly(response: httpx.Response) -> None:
    try:
        response.close()
    except Exception:  # noqa: BLE001 - closing a broken stream may fail in many ways; it is closed anyway
        pass
