"""Gates calls: only a tool (or prompt) whose live definition is approved reaches the server.

A call for something the shim has not seen listed on this connection is never forwarded blind
(clients of the 2026-07-28 revision may call without listing): the gate has mcpguard list the
server itself first, and decides once that answer is in.
"""

from __future__ import annotations

from mcpguard.policy import Status, Verdict
from mcpguard.proxy import jsonrpc
from mcpguard.proxy.steps.listing_filter import served

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    from typing import Any

    from mcpguard.proxy.hooks import Flow
    from mcpguard.proxy.session import Session

_LIST_METHOD = {"tool": "tools/list", "prompt": "prompts/list"}


class ToolGate:
    """Refuses calls to anything not approved, in plain words the user can act on."""

    def tool_called(self, session: Session, flow: Flow) -> None:
        self._gate(session, flow, "tool")

    def prompt_requested(self, session: Session, flow: Flow) -> None:
        self._gate(session, flow, "prompt")

    def _gate(self, session: Session, flow: Flow, kind: str) -> None:
        name = flow.params.get("name")
        msg_id = flow.message.get("id")
        if not isinstance(name, str):
            flow.outcome = "blocked"
            flow.detail = f"the request names no {kind}"
            flow.answer(jsonrpc.error_response(msg_id, jsonrpc.INVALID_PARAMS, f"Invalid params: no {kind} name"))
            return
        if not self._verified(session, kind, name):
            error = session.fetch_errors.pop(kind, None)
            if error is None and kind not in session.fetching and not flow.deferred_once:
                session.fetching.add(kind)
                session.request_server(_LIST_METHOD[kind], {}, kind=kind)
            if error is None and kind in session.fetching:
                flow.deferred = True
                flow.deferred_once = True
                return
            flow.outcome = "blocked"
            flow.detail = f"could not verify the {kind}'s definition: {error or 'the server did not list it'}"
            if error is not None:
                flow.answer(
                    jsonrpc.error_response(
                        msg_id,
                        jsonrpc.INTERNAL_ERROR,
                        f"mcpguard could not verify the {kind} {name!r} with the server ({error}), "
                        "so the call was not forwarded.",
                    )
                )
                return
        decided, _ = served(session, kind, name)
        if decided is Verdict.PASS:
            return
        flow.outcome = "blocked"
        if decided is Verdict.HIDE:
            flow.detail = f"{kind} not approved (hidden from the client)"
            flow.answer(jsonrpc.error_response(msg_id, jsonrpc.INVALID_PARAMS, f"Unknown {kind}: {name}"))
            return
        reason, how = self._reason(session, kind, name)
        text = (
            f"mcpguard is holding the {kind} '{name}' of the server '{session.name}' for your approval: "
            f"{reason}. The call was not sent to the server. To allow it, approve it in the mcpguard "
            f"tray or run: {how}"
        )
        flow.detail = reason
        if kind == "tool":
            result: dict[str, Any] = {"content": [{"type": "text", "text": text}], "isError": True}
            flow.answer(jsonrpc.result_response(msg_id, result))
        else:
            flow.answer(jsonrpc.error_response(msg_id, jsonrpc.INVALID_PARAMS, text))

    @staticmethod
    def _verified(session: Session, kind: str, name: str) -> bool:
        """True when this connection has seen the server's current definition of ``name``, or knows
        for sure the server has none."""
        if kind in session.stale or kind in session.fetching:
            return False
        if name in session.live.get(kind, {}):
            return True
        return session.listing_complete.get(kind, False)

    @staticmethod
    def _reason(session: Session, kind: str, name: str) -> tuple[str, str]:
        if not session.identity_approved:
            return (
                "the server's command line is new or changed since you approved it",
                f"mcpguard pins approve {session.name}",
            )
        if name in session.conflicts.get(kind, ()):
            return (
                f"the server lists two different {kind}s with this name",
                f"mcpguard pins show {session.name} {name}",
            )
        view = session.view(kind, name)
        if view is not None and view.status is Status.DENIED:
            reason = "you denied its current definition"
        else:
            reason = "its definition changed since you approved it"
        return reason, f"mcpguard pins approve {session.name} {name}"

    def tick(self, session: Session) -> None:
        """Refuse calls whose verification the server has not answered in time."""
        now = session.clock()
        if not session.deferred or all(now - since < session.settings.verify_timeout for _, since in session.deferred):
            return
        for kind in list(session.fetching):
            session.fetching.discard(kind)
            session.fetch_errors[kind] = "the server did not answer mcpguard's listing in time"
            for key, own in list(session.own.items()):
                if own.kind == kind:
                    del session.own[key]
