"""Gives the user a moment to approve a never-seen server before its client gives up asking.

Only the first tool list of a server mcpguard has never seen, only while the tray runs (so someone
can be asked), and only for a bounded time: then the answer goes out without the pending tools, as
it would have at once. Nothing else ever waits on a human.
"""

from __future__ import annotations

from mcpguard.policy import Status

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    from mcpguard.proxy.hooks import Flow
    from mcpguard.proxy.session import Session


class FirstListHold:
    """Holds one answer per connection: the first ``tools/list`` of a never-seen server."""

    def __init__(self) -> None:
        self._held_once = False

    def listing_answered(self, session: Session, flow: Flow) -> None:
        if (
            flow.own
            or flow.released
            or self._held_once
            or flow.method != "tools/list"
            or not session.first_use
            or session.settings.first_list_hold <= 0
            or not self._waiting(session)
            or not session.store.tray_alive()
        ):
            return
        self._held_once = True
        flow.deferred = True

    @staticmethod
    def _waiting(session: Session) -> bool:
        """The user has yet to decide about the server's command line or one of the listed tools."""
        command = session.view("command", "")
        if command is None or command.status is Status.PENDING:
            return True
        tools = session.pins.get("tool", {})
        return any(tools[name].status is Status.PENDING for name in session.live.get("tool", {}) if name in tools)

    def decisions_changed(self, session: Session) -> None:
        if not self._waiting(session):
            for held in session.held:
                held.release = True

    def tick(self, session: Session) -> None:
        now = session.clock()
        for held in session.held:
            if now - held.since >= session.settings.first_list_hold:
                held.release = True
