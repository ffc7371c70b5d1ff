"""The events the proxy raises, and the Flow each interception step sees.

A step is any object with methods named after these hooks; the pipeline calls them in order.
Hook names are ``<subject>_<event>``:

=========================  ===================================================================
``started(session)``        once, before the server's first message
``initialize_answered``     the server answered ``initialize`` or ``server/discover``
``listing_answered``        the server answered ``tools/list``, ``prompts/list``,
                            ``resources/templates/list`` or ``resources/list`` (one page)
``tool_called``             the client calls ``tools/call``
``prompt_requested``        the client asks ``prompts/get``
``tool_answered``           the server answered a ``tools/call``
``call_finished``           a ``tools/call`` was answered (by the server or by mcpguard) and the
                            answer is on its way: for observers (scan, log), run later off the
                            relay path, outside the pipeline's lock; the flow can no longer change
``server_notified``         a notification from the server
``client_notified``         a notification from the client
``decisions_changed``       someone recorded a decision in the store (any process)
``tick``                    about four times a second, for time-outs
=========================  ===================================================================
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    from typing import Any

    from mcpguard.audit import CallRecord

LISTING_METHODS = {
    "tools/list": ("tool", "tools"),
    "prompts/list": ("prompt", "prompts"),
    "resources/templates/list": ("resource_template", "resourceTemplates"),
    "resources/list": ("resource", "resources"),
}
"""Listing method -> (pinned kind, result key)."""

INITIALIZE_METHODS = ("initialize", "server/discover")


class Flow:
    """One message on its way through the pipeline, with what the steps decided about it.

    A plain class with slots rather than a dataclass: one is made for every message the guard
    looks at, and the shim does not import ``dataclasses`` (see :mod:`mcpguard.values`).
    """

    __slots__ = (
        "message",
        "request",
        "started",
        "own",
        "modified",
        "reply",
        "deferred",
        "released",
        "deferred_once",
        "size",
        "outcome",
        "detail",
        "findings",
        "ended",
        "at",
        "record",
        "raw",
    )

    def __init__(
        self,
        message: dict[str, Any],
        request: dict[str, Any] | None = None,
        started: float = 0.0,
        own: bool = False,
        released: bool = False,
        size: int = 0,
    ) -> None:
        self.message = message
        """The parsed message; a step that changes it sets :attr:`modified`."""
        self.request = request
        """For a response: the request it answers (method and params)."""
        self.started = started
        """For a response: when its request passed, for durations."""
        self.own = own
        """The request was mcpguard's own (a listing it fetched to verify a call): never forwarded."""
        self.modified = False
        self.reply: dict[str, Any] | None = None
        """Set by a step that answers the sender itself; the message is then not forwarded."""
        self.deferred = False
        """Set by a step that must wait for the server (mcpguard's own listing) before deciding."""
        self.released = released
        """A held answer, decided again after the user decided or the hold timed out: never held twice."""
        self.deferred_once = False
        """It already waited once; a second miss is decided, not deferred again."""
        self.size = size
        """Bytes of the line the message arrived in (for an element of a batch: of the batch, or 0)."""
        self.outcome: str | None = None
        """For tool calls: ``ok``, ``tool-error``, ``protocol-error`` or ``blocked``."""
        self.detail = ""
        self.findings: list[dict[str, str]] = []
        self.ended = 0.0
        """For a finished call: when its answer passed (the session's clock), for durations."""
        self.at = 0.0
        """For a finished call: the wall-clock time its answer passed, as the log shows it."""
        self.record: CallRecord | None = None
        """For a finished call: its log record, made by the log step."""
        self.raw: bytes | bytearray | None = None
        """For a finished call waiting for the observers: the answer's line, parsed again when observed."""

    def __repr__(self) -> str:
        return f"Flow(method={self.method!r}, own={self.own}, modified={self.modified}, deferred={self.deferred})"

    @property
    def method(self) -> str | None:
        if self.request is not None:
            method = self.request.get("method")
        else:
            method = self.message.get("method")
        return method if isinstance(method, str) else None

    @property
    def params(self) -> dict[str, Any]:
        source = self.request if self.request is not None else self.message
        params = source.get("params")
        return params if isinstance(params, dict) else {}

    @property
    def result(self) -> dict[str, Any] | None:
        result = self.message.get("result")
        return result if isinstance(result, dict) else None

    def answer(self, reply: dict[str, Any]) -> None:
        self.reply = reply
