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
``server_notified``         a notification from the server
``client_notified``         a notification from the client
``decisions_changed``       someone recorded a decision in the store (any process)
``tick``                    about four times a second, for time-outs
=========================  ===================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LISTING_METHODS = {
    "tools/list": ("tool", "tools"),
    "prompts/list": ("prompt", "prompts"),
    "resources/templates/list": ("resource_template", "resourceTemplates"),
    "resources/list": ("resource", "resources"),
}
"""Listing method -> (pinned kind, result key)."""

INITIALIZE_METHODS = ("initialize", "server/discover")


@dataclass
class Flow:
    """One message on its way through the pipeline, with what the steps decided about it."""

    message: dict[str, Any]
    """The parsed message; a step that changes it sets :attr:`modified`."""
    request: dict[str, Any] | None = None
    """For a response: the request it answers (method and params)."""
    started: float = 0.0
    """For a response: when its request passed, for durations."""
    own: bool = False
    """The request was mcpguard's own (a listing it fetched to verify a call): never forwarded."""
    modified: bool = False
    reply: dict[str, Any] | None = None
    """Set by a step that answers the sender itself; the message is then not forwarded."""
    deferred: bool = False
    """Set by a step that must wait for the server (mcpguard's own listing) before deciding."""
    released: bool = False
    """A held answer, decided again after the user decided or the hold timed out: never held twice."""
    deferred_once: bool = False
    """It already waited once; a second miss is decided, not deferred again."""
    size: int = 0
    """Bytes of the message as it arrived."""
    outcome: str | None = None
    """For tool calls: ``ok``, ``tool-error``, ``protocol-error`` or ``blocked``."""
    detail: str = ""
    findings: list[dict[str, str]] = field(default_factory=list)

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
