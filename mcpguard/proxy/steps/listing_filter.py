"""Filters listings: the client sees approved definitions only, never a new, changed or denied one."""

from __future__ import annotations

from mcpguard import logs
from mcpguard.pinning.fingerprint import fingerprint
from mcpguard.policy import Verdict, verdict
from mcpguard.proxy.hooks import LISTING_METHODS

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    from typing import Any

    from mcpguard.proxy.hooks import Flow
    from mcpguard.proxy.session import Session

log = logs.get(__name__)


def served(session: Session, kind: str, name: str) -> tuple[Verdict, Any]:
    """What the client may be shown of one live item: the verdict and the definition to show."""
    view = session.view(kind, name)
    if view is None:
        return Verdict.HIDE, None
    if name in session.conflicts.get(kind, ()):
        decided = Verdict.HIDE if view.approved is None else Verdict.SERVE_APPROVED
    else:
        decided = verdict(view.pin, identity_approved=session.identity_approved)
    if decided is Verdict.HIDE:
        return decided, None
    if decided is Verdict.PASS:
        return decided, view.live.definition if view.live else None
    return decided, view.approved.definition if view.approved else None


def visible_fingerprints(session: Session, kind: str) -> dict[str, str]:
    """name -> fingerprint of what the client should be shown now; compared after decisions."""
    shown: dict[str, str] = {}
    for name in session.live.get(kind, {}):
        decided, _ = served(session, kind, name)
        view = session.view(kind, name)
        if view is None or decided is Verdict.HIDE:
            continue
        version = view.live if decided is Verdict.PASS else view.approved
        if version is not None:
            shown[name] = version.fingerprint
    return shown


class ListingFilter:
    """Records every page of tools, prompts and templates, and rewrites it to what is approved."""

    def listing_answered(self, session: Session, flow: Flow) -> None:
        method = flow.method or ""
        kind, key = LISTING_METHODS[method]
        result = flow.result
        if result is None:
            if flow.own:
                session.fetching.discard(kind)
                session.fetch_errors[kind] = _error_text(flow.message)
            return
        items = result.get(key)
        if kind == "resource":
            _scan_resources(flow, items)
            return
        if not isinstance(items, list):
            items = []
        if "cursor" not in flow.params:
            session.live[kind] = {}
            session.conflicts[kind] = set()
            session.listing_complete[kind] = False
            if not flow.own:
                session.visible[kind] = {}
        definitions = self._record(session, kind, items)
        if not flow.own:
            kept = self._rewrite(session, kind, items, definitions)
            if len(kept) != len(items) or any(a is not b for a, b in zip(kept, items, strict=True)):
                result[key] = kept
                flow.modified = True
        next_cursor = result.get("nextCursor")
        if next_cursor is None:
            session.listing_complete[kind] = True
            session.stale.discard(kind)
        if flow.own:
            if next_cursor is not None:
                session.request_server(method, {"cursor": next_cursor}, kind=kind)
            else:
                session.fetching.discard(kind)

    @staticmethod
    def _record(session: Session, kind: str, items: list[Any]) -> dict[str, Any]:
        definitions: dict[str, Any] = {}
        conflicts = session.conflicts.setdefault(kind, set())
        live = session.live.setdefault(kind, {})
        for item in items:
            name = item.get("name") if isinstance(item, dict) else None
            if kind == "resource_template" and isinstance(item, dict) and not isinstance(name, str):
                name = item.get("uriTemplate")
            if not isinstance(name, str):
                log.warning("server %s listed a %s without a name; withheld", session.name, kind)
                continue
            fp = fingerprint(item)
            if name in live and live[name] != fp or name in definitions and fingerprint(definitions[name]) != fp:
                conflicts.add(name)
                log.warning("server %s listed two different %ss named %r; both withheld", session.name, kind, name)
            definitions.setdefault(name, item)
            live.setdefault(name, fp)
        approved = session.store.approved_names(kind)
        own = set(live)

        def findings(k: str, n: str, definition: Any) -> list[dict[str, str]]:
            from mcpguard.scanner import scan_definition

            others = approved - {n}
            return [f.to_json() for f in scan_definition(definition, approved_names=others, own_names=own)]

        # A conflicting name records every variant, so the user can see both in the history.
        for name in conflicts & set(definitions):
            for item in items:
                if isinstance(item, dict) and item.get("name") == name and item is not definitions[name]:
                    session.store.observe(session.server.id, kind, {name: item}, findings=findings)
        views = session.store.observe(
            session.server.id,
            kind,
            definitions,
            findings=findings,
            auto_approve_actor=session.first_use_actor(),
        )
        session.pins.setdefault(kind, {}).update(views)
        return definitions

    @staticmethod
    def _rewrite(session: Session, kind: str, items: list[Any], definitions: dict[str, Any]) -> list[Any]:
        kept: list[Any] = []
        shown = session.visible.setdefault(kind, {})
        for item in items:
            name = item.get("name") if isinstance(item, dict) else None
            if kind == "resource_template" and isinstance(item, dict) and not isinstance(name, str):
                name = item.get("uriTemplate")
            if not isinstance(name, str) or name in shown or item is not definitions.get(name):
                continue
            decided, definition = served(session, kind, name)
            if decided is Verdict.HIDE:
                continue
            view = session.view(kind, name)
            assert view is not None
            if decided is Verdict.PASS:
                kept.append(item)
                shown[name] = session.live[kind][name]
            else:
                kept.append(definition)
                assert view.approved is not None
                shown[name] = view.approved.fingerprint
        return kept


def _error_text(message: dict[str, Any]) -> str:
    error = message.get("error")
    if isinstance(error, dict):
        return str(error.get("message", "an error"))
    return "an answer without a result"


def _scan_resources(flow: Flow, items: Any) -> None:
    """Resources come and go with the data; they are scanned, not pinned."""
    if not isinstance(items, list):
        return
    from mcpguard.scanner import scan_definition

    for item in items:
        if isinstance(item, dict):
            flow.findings += [f.to_json() for f in scan_definition(item)]
