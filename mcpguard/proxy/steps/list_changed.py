"""Keeps the client's view current: marks listings stale, announces decisions with list_changed."""

from __future__ import annotations

from mcpguard.proxy import jsonrpc
from mcpguard.proxy.steps.listing_filter import visible_fingerprints

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    from mcpguard.proxy.hooks import Flow
    from mcpguard.proxy.session import Session

_STALE_BY_NOTIFICATION = {
    "notifications/tools/list_changed": ("tool",),
    "notifications/prompts/list_changed": ("prompt",),
    "notifications/resources/list_changed": ("resource_template",),
}
_NOTIFICATION_BY_KIND = {
    "tool": "notifications/tools/list_changed",
    "prompt": "notifications/prompts/list_changed",
    "resource_template": "notifications/resources/list_changed",
}


class ListChanged:
    """A server's change makes the next call re-verify; a user's decision tells the client to re-list."""

    def server_notified(self, session: Session, flow: Flow) -> None:
        for kind in _STALE_BY_NOTIFICATION.get(str(flow.message.get("method")), ()):
            session.stale.add(kind)

    def decisions_changed(self, session: Session) -> None:
        for kind, method in _NOTIFICATION_BY_KIND.items():
            if kind not in session.live or (kind == "tool" and session.held):
                continue  # a held list will be answered with the decision in it
            now = visible_fingerprints(session, kind)
            if now != session.visible.get(kind):
                session.visible[kind] = now
                if session.initialized:
                    session.send_client(jsonrpc.notification(method))
