"""Runs the interception steps over each message, in order, and fails closed when one breaks.

The pipeline is sans-IO: it takes the lines the shim read and returns the lines to write, each
tagged with its side. Messages no step cares about pass as the very bytes that came in.
"""

from __future__ import annotations

import json
import time

from mcpguard import logs
from mcpguard.audit import ArgumentsText, bounded_json
from mcpguard.proxy import jsonrpc
from mcpguard.proxy.hooks import INITIALIZE_METHODS, LISTING_METHODS, Flow
from mcpguard.proxy.jsonrpc import Oversized
from mcpguard.proxy.session import HeldAnswer

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, Literal, TypeAlias

    from mcpguard.audit import CallRecord
    from mcpguard.proxy.jsonrpc import Line
    from mcpguard.proxy.session import Session

    Side: TypeAlias = Literal["client", "server"]
    Out: TypeAlias = tuple[Side, bytes | bytearray]

log = logs.get(__name__)

TRACKED_METHODS = frozenset({*INITIALIZE_METHODS, *LISTING_METHODS, "tools/call", "prompts/get"})
"""Client requests whose answers mcpguard must see (and may change)."""

CLIENT_REQUEST_HOOKS = {"tools/call": "tool_called", "prompts/get": "prompt_requested"}
_KIND_OF_REQUEST = {"tools/call": "tool", "prompts/get": "prompt"}

LARGE_LINE = 1 << 20
"""From this size on, a line read into a ``bytearray`` is consumed by the pipeline (see :func:`_consume`)."""

LIGHT_FROM = 1 << 16
"""From this size on, a tracked request is remembered without its arguments (see :func:`_light`)."""


class _Rewritten:
    """A message a step changed in place: it must be re-encoded, not forwarded as the original bytes."""

    __slots__ = ("message",)

    def __init__(self, message: Any) -> None:
        self.message = message


class _Original:
    """Stands for the line as it arrived in what a message turns into, until it is known how to write it."""


_ORIGINAL = _Original()


def _light(request: dict[str, Any], size: int) -> dict[str, Any]:
    """What must be remembered of a request until its answer: never a large argument.

    A 64 MiB ``tools/call`` would otherwise stay in memory, parsed, for as long as the call runs;
    the log only keeps a bounded preview of the arguments anyway. ``size`` is the line's length.
    A request under :data:`LIGHT_FROM` bytes is kept as it is: rendering its preview now would
    put the log's work on the relay path.
    """
    if size < LIGHT_FROM:
        return request
    params = request.get("params")
    if not isinstance(params, dict) or "arguments" not in params:
        return request
    light = {**params, "arguments": ArgumentsText(bounded_json(params["arguments"], source_bytes=size))}
    return {"method": request.get("method"), "params": light}


def _unwrap(result: Any) -> Any:
    return result.message if isinstance(result, _Rewritten) else result


def _consume(line: Line) -> str | None:
    """The text of a large UTF-8 line, whose buffer is then emptied; None for any other line.

    ``json.loads`` decodes a line to text before parsing it, so a 64 MiB line would be held three
    times at once (bytes, text, parsed value). A large line from the shim's ``LineBuffer`` is a
    ``bytearray`` nobody else holds, so once decoded it is cleared, and a message that passes
    unchanged is encoded back from the text: decoding UTF-8 (with ``surrogatepass``, as ``json``
    does) and encoding it again gives back the very same bytes. Peak memory is then twice the line.
    """
    if not isinstance(line, bytearray) or len(line) < LARGE_LINE or json.detect_encoding(line) != "utf-8":
        return None
    try:
        text = line.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return None  # not UTF-8: json.loads refuses it the same way, and the line stays as it is
    line.clear()
    return text


def _with_original(out: list[tuple[Side, Any]], line: Line, text: str | None) -> list[Out]:
    """Fill in the original bytes where a message passes unchanged (encoded back from ``text`` if consumed)."""
    if len(out) == 1 and out[0][1] is _ORIGINAL:  # the usual case: one message, passed as it came
        return [(out[0][0], line if text is None else text.encode("utf-8", "surrogatepass"))]
    if not any(data is _ORIGINAL for _, data in out):
        return out
    original = line if text is None else text.encode("utf-8", "surrogatepass")
    return [(side, original if data is _ORIGINAL else data) for side, data in out]


class Pipeline:
    """The chain of steps over one session."""

    def __init__(self, session: Session, steps: Sequence[object]) -> None:
        self.session = session
        self.steps = list(steps)
        self._having: dict[str, list[object]] = {}
        """hook -> the steps that have it, found once per hook (the message path asks for every message)."""

    # -- entry points used by the shim -------------------------------------------------------------

    def start(self) -> list[Out]:
        self._run("started", None)
        return self._drain()

    def from_client(self, line: Line | Oversized) -> list[Out]:
        """A line from the client; returns what to write where.

        A line of :data:`LARGE_LINE` bytes or more in a ``bytearray`` is consumed (emptied).
        """
        if isinstance(line, Oversized):
            log.warning("dropped a %d-byte message from the client: over the size limit", line.size)
            reply = jsonrpc.error_response(
                line.message_id(),
                jsonrpc.INVALID_REQUEST,
                f"mcpguard did not forward a message of {line.size} bytes: it is over the size limit "
                "(MCPGUARD_MAX_MESSAGE_BYTES)",
            )
            return [("client", jsonrpc.encode(reply))]
        if not line or line.isspace():
            return []
        size = len(line)
        text = _consume(line) if size >= LARGE_LINE else None
        try:
            message = jsonrpc.parse(line if text is None else text)
        except (ValueError, RecursionError) as exc:
            log.warning("client sent a line that is not JSON (%s): %r", exc, (line if text is None else text)[:80])
            reply = jsonrpc.error_response(None, jsonrpc.PARSE_ERROR, "Parse error: the line is not JSON")
            return [("client", jsonrpc.encode(reply))]
        if message == []:
            reply = jsonrpc.error_response(None, jsonrpc.INVALID_REQUEST, "Invalid Request: empty batch")
            return [("client", jsonrpc.encode(reply))]
        out = self._route_client(message, size)
        del message  # a consumed line is now held once, as text
        return self._finish(out, line, text)

    def _route_client(self, message: Any, size: int) -> list[tuple[Side, Any]]:
        out: list[tuple[Side, Any]] = []
        if isinstance(message, list):
            forward, replies = self._batch(message, lambda m: self._client_message(m, size))
            if forward is not None:
                out.append(("server", _ORIGINAL if forward is message else jsonrpc.encode(forward)))
            if replies:
                out.append(("client", jsonrpc.encode(replies)))
        else:
            result = self._client_message(message, size)
            if result is message:
                out.append(("server", _ORIGINAL))
            elif result is not None:
                out.append(("server", jsonrpc.encode(_unwrap(result))))
        return out

    def from_server(self, line: Line | Oversized) -> list[Out]:
        """A line from the server; returns what to write where.

        A line of :data:`LARGE_LINE` bytes or more in a ``bytearray`` is consumed (emptied).
        """
        if isinstance(line, Oversized):
            self._server_oversized(line)
            return self._drain()
        if not line or line.isspace():
            return []
        size = len(line)
        text = _consume(line) if size >= LARGE_LINE else None
        try:
            message = jsonrpc.parse(line if text is None else text)
        except (ValueError, RecursionError) as exc:
            shown = (line if text is None else text)[:80]
            log.warning("server wrote a line that is not JSON to stdout, dropped (%s): %r", exc, shown)
            return []
        out = self._route_server(message, size, line if text is None else None)
        del message  # a consumed line is now held once, as text
        return self._finish(out, line, text)

    def _route_server(self, message: Any, size: int, raw: Line | None) -> list[tuple[Side, Any]]:
        out: list[tuple[Side, Any]] = []
        if isinstance(message, list):
            forward, _ = self._batch(message, lambda m: self._server_message(m, 0, None))
            if forward is not None:
                out.append(("client", _ORIGINAL if forward is message else jsonrpc.encode(forward)))
        else:
            result = self._server_message(message, size, raw)
            if result is message:
                out.append(("client", _ORIGINAL))
            elif result is not None:
                out.append(("client", jsonrpc.encode(_unwrap(result))))
        return out

    def _finish(self, out: list[tuple[Side, Any]], line: Line, text: str | None) -> list[Out]:
        """What to write: ``out`` with the original bytes filled in, then what the steps queued."""
        done = _with_original(out, line, text)
        queued = self._drain()
        return done + queued if queued else done

    def _server_oversized(self, line: Oversized) -> None:
        """Drop an answer too large to check, but never leave the client waiting for it."""
        log.warning("dropped a %d-byte message from the server: over the size limit", line.size)
        key = jsonrpc.id_key(line.message_id())
        own = self.session.own.pop(key, None)
        if own is not None:
            self.session.fetching.discard(own.kind)
            self.session.fetch_errors[own.kind] = "the server's listing is over mcpguard's size limit"
            self._resume_ready()
            return
        if self.session.pending.pop(key, None) is not None:
            self.session.send_client(
                jsonrpc.error_response(
                    key[1],
                    jsonrpc.INTERNAL_ERROR,
                    f"mcpguard withheld the server's answer: at {line.size} bytes it is over the size limit "
                    "(MCPGUARD_MAX_MESSAGE_BYTES)",
                )
            )

    def decisions_poll(self) -> list[Out]:
        """Check whether anyone recorded a decision; if so, let the steps react."""
        rev = self.session.store.decisions_rev()
        if rev != self.session.rev:
            self.session.rev = rev
            self.session.refresh_pins()
            self._run("decisions_changed", None)
            self._release_held()
        return self._drain()

    def tick(self) -> list[Out]:
        self._run("tick", None)
        self._resume_ready()
        self._release_held()
        return self._drain()

    def _release_held(self) -> None:
        """Answer held listings the steps let go: decided from the original answer, as if it came now."""
        session = self.session
        ready = [h for h in session.held if h.release]
        if not ready:
            return
        session.held = [h for h in session.held if not h.release]
        for held in ready:
            flow = Flow(message=jsonrpc.parse(held.raw), request=held.request, started=held.started, released=True)
            if self._run_response(flow):
                session.send_client(flow.message)

    # -- messages ----------------------------------------------------------------------------------

    def _batch(self, batch: list[Any], handle: Callable[[Any], Any]) -> tuple[Any, list[dict[str, Any]]]:
        """Inspect a JSON-RPC batch element by element; ``(what to forward, replies)``."""
        if not batch:
            return None, []
        forward: list[Any] = []
        changed = False
        before = len(self.session.to_client)
        for element in batch:
            result = handle(element)
            if result is not element:
                changed = True
            if result is not None:
                forward.append(_unwrap(result))
        replies = self.session.to_client[before:]
        del self.session.to_client[before:]
        if not changed:
            return batch, replies
        return (forward or None), replies

    def _client_message(self, message: Any, size: int) -> Any:
        """Returns the message to forward (the same object when unchanged) or None."""
        session = self.session
        if not isinstance(message, dict):
            session.send_client(jsonrpc.error_response(None, jsonrpc.INVALID_REQUEST, "Invalid Request"))
            return None
        method = message.get("method")
        if jsonrpc.is_request(message):
            self._note_envelope(message)
            if method in TRACKED_METHODS:
                session.pending[jsonrpc.id_key(message["id"])] = (_light(message, size), session.clock())
            hook = CLIENT_REQUEST_HOOKS.get(str(method))
            if hook is None:
                return message
            flow = Flow(message=message, started=session.clock(), size=size)
            return self._decide_request(hook, flow)
        if jsonrpc.is_notification(message):
            flow = Flow(message=message)
            self._run("client_notified", flow)
            return message
        return message

    def _decide_request(self, hook: str, flow: Flow) -> Any:
        if not self._run(hook, flow, fail_reply=True):
            return None
        if flow.deferred:
            self.session.deferred.append((flow, self.session.clock()))
            return None
        if flow.reply is not None:
            self.session.pending.pop(jsonrpc.id_key(flow.message.get("id")), None)
            self.session.send_client(flow.reply)
            if hook == "tool_called":
                self._finished(flow)
            return None
        return _Rewritten(flow.message) if flow.modified else flow.message

    def _resume_ready(self) -> None:
        """Decide deferred requests again once mcpguard's own listing has come back (or failed)."""
        session = self.session
        waiting, session.deferred = session.deferred, []
        for flow, since in waiting:
            method = str(flow.message.get("method"))
            if _KIND_OF_REQUEST[method] in session.fetching:
                session.deferred.append((flow, since))
                continue
            flow.deferred = False
            result = self._decide_request(CLIENT_REQUEST_HOOKS[method], flow)
            if result is not None:
                session.to_server.append(_unwrap(result))

    def _server_message(self, message: Any, size: int, raw: Line | None) -> Any:
        session = self.session
        if not isinstance(message, dict):
            log.warning("server sent a batch element that is not an object; dropped")
            return None
        if jsonrpc.is_response(message):
            key = jsonrpc.id_key(message["id"])
            own = session.own.pop(key, None)
            if own is not None:
                request = {"method": own.method, "params": own.params}
                flow = Flow(message=message, request=request, own=True, started=own.sent, size=size)
                self._run_response(flow)
                self._resume_ready()
                return None
            pending = session.pending.pop(key, None)
            if pending is None:
                return message
            request, started = pending
            flow = Flow(message=message, request=request, started=started, size=size)
            if not self._run_response(flow):
                return None
            if flow.deferred:
                original = bytes(raw) if raw is not None else jsonrpc.encode(message)
                session.held.append(HeldAnswer(original, request, started, session.clock()))
                return None
            if request.get("method") == "tools/call":
                self._finished(flow, None if flow.modified else raw)
            return _Rewritten(flow.message) if flow.modified else message
        if jsonrpc.is_notification(message):
            flow = Flow(message=message)
            if not self._run("server_notified", flow):
                return None
            if flow.reply is not None:
                return None
            return _Rewritten(flow.message) if flow.modified else message
        return message

    def _run_response(self, flow: Flow) -> bool:
        method = flow.method
        if method in INITIALIZE_METHODS:
            hook = "initialize_answered"
        elif method in LISTING_METHODS:
            hook = "listing_answered"
        elif method == "tools/call":
            hook = "tool_answered"
        else:
            return True
        return self._run(hook, flow, fail_reply=True)

    # -- finished calls: observed off the relay path ------------------------------------------------

    def _finished(self, flow: Flow, raw: Line | None = None) -> None:
        """Queue a finished call for the observers (:meth:`observe`), which run after it is relayed.

        A call whose message is :data:`LARGE_LINE` bytes or more is observed at once instead, so a
        large parsed message is never kept waiting in the queue. Given the answer's line, the queue
        keeps that instead of the parsed answer, and :meth:`observe` parses it again: one compact
        object per call rather than a tree of them, which a burst of thousands of calls would
        otherwise leave to the collector and push out of the CPU's caches before it is read.
        """
        session = self.session
        flow.ended = session.clock()
        flow.at = time.time()
        if not session.finished and not session.audit:
            session.log_since = flow.ended
        if flow.size >= LARGE_LINE:
            session.audit += self.observe([flow])
            return
        if raw is not None:
            flow.raw, flow.message = raw, {}
        session.finished.append(flow)
        session.finished_bytes += flow.size

    def observe(self, flows: list[Flow]) -> list[CallRecord]:
        """Run the ``call_finished`` observers over finished calls; their log records, in order.

        Called without the pipeline's lock (the flows are no longer shared). A failing observer is
        logged and the next one still runs, so a scanner error never costs the call its log record.
        """
        having = self._having.get("call_finished")
        if having is None:
            having = self._having["call_finished"] = [s for s in self.steps if hasattr(s, "call_finished")]
        records: list[CallRecord] = []
        for flow in flows:
            if flow.raw is not None:
                flow.message, flow.raw = jsonrpc.parse(flow.raw), None  # it parsed once: it parses again
            for step in having:
                try:
                    step.call_finished(self.session, flow)  # type: ignore[attr-defined]
                except Exception:
                    log.exception("mcpguard step %s.call_finished failed", type(step).__name__)
            if flow.record is not None:
                records.append(flow.record)
        return records

    def _note_envelope(self, message: dict[str, Any]) -> None:
        params = message.get("params")
        meta = params.get("_meta") if isinstance(params, dict) else None
        if isinstance(meta, dict):
            envelope = {k: v for k, v in meta.items() if isinstance(k, str) and k.startswith("io.modelcontext")}
            if "io.modelcontextprotocol/protocolVersion" in envelope:
                self.session.envelope = envelope
                self.session.initialized = True

    # -- running steps -----------------------------------------------------------------------------

    def _run(self, hook: str, flow: Flow | None, *, fail_reply: bool = False) -> bool:
        """Call ``hook`` on every step that has it; False if a step failed (the message is refused).

        Unlike a log-and-continue proxy, a failing step never lets the message through unchecked:
        a request or a tracked answer is replaced by an error for the client, anything else dropped.
        """
        having = self._having.get(hook)
        if having is None:
            having = self._having[hook] = [step for step in self.steps if hasattr(step, hook)]
        for step in having:
            method = getattr(step, hook)
            try:
                if flow is None:
                    method(self.session)
                else:
                    method(self.session, flow)
            except Exception as exc:
                log.exception("mcpguard step %s.%s failed", type(step).__name__, hook)
                if flow is not None and fail_reply:
                    self._refuse(flow, exc)
                return False
            if flow is not None and flow.deferred:
                return True
        return True

    def _refuse(self, flow: Flow, exc: Exception) -> None:
        msg_id = flow.message.get("id")
        if flow.own:
            listing = LISTING_METHODS.get(flow.method or "")
            if listing is not None:
                self.session.fetching.discard(listing[0])
                self.session.fetch_errors[listing[0]] = "mcpguard could not check the server's listing"
            return
        self.session.pending.pop(jsonrpc.id_key(msg_id), None)
        self.session.send_client(
            jsonrpc.error_response(
                msg_id,
                jsonrpc.INTERNAL_ERROR,
                f"mcpguard could not check this message ({type(exc).__name__}: {exc}), so it was "
                "withheld. See the mcpguard log for details.",
            )
        )

    def _drain(self) -> list[Out]:
        if not self.session.to_server and not self.session.to_client:
            return []
        out: list[Out] = [("server", jsonrpc.encode(m)) for m in self.session.to_server]
        out += [("client", jsonrpc.encode(m)) for m in self.session.to_client]
        self.session.to_server.clear()
        self.session.to_client.clear()
        return out
