"""The state of one guarded connection, without any I/O of its own.

The session remembers what the server has shown on this connection, what the client has been
shown, which requests are mcpguard's own, and what waits for the server before it can be decided.
Steps read and change it; the pipeline turns its outboxes into bytes for the shim to write.
"""

from __future__ import annotations

import itertools
import os
import time

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from mcpguard.audit import CallRecord
    from mcpguard.pinning.store import ItemView, ServerRecord, Store
    from mcpguard.proxy.hooks import Flow

ENVELOPE_PREFIX = "io.modelcontextprotocol/"
"""Reserved ``_meta`` keys that carry the per-request envelope of the 2026-07-28 revision."""


class OwnRequest:
    """A request mcpguard sent to the server itself; its answer is consumed, never forwarded."""

    __slots__ = ("method", "params", "kind", "sent")

    def __init__(self, method: str, params: dict[str, Any], kind: str, sent: float) -> None:
        self.method = method
        self.params = params
        self.kind = kind
        self.sent = sent


class HeldAnswer:
    """A server's answer held back so the user can decide first (never-seen server, tray running)."""

    __slots__ = ("raw", "request", "started", "since", "release")

    def __init__(
        self, raw: bytes, request: dict[str, Any], started: float, since: float, release: bool = False
    ) -> None:
        self.raw = raw
        self.request = request
        self.started = started
        self.since = since
        self.release = release


class Settings:
    """Behaviour a user may change (``mcpguard settings``); read once per connection."""

    __slots__ = ("trust_on_first_use", "verify_timeout", "first_list_hold")

    def __init__(
        self, trust_on_first_use: bool = False, verify_timeout: float = 30.0, first_list_hold: float = 25.0
    ) -> None:
        self.trust_on_first_use = trust_on_first_use
        self.verify_timeout = verify_timeout
        """How long a call may wait for mcpguard's own listing before it is refused."""
        self.first_list_hold = first_list_hold
        """How long a never-seen server's first tool list may wait for the user while the tray runs."""

    def __repr__(self) -> str:
        return (
            f"Settings(trust_on_first_use={self.trust_on_first_use}, verify_timeout={self.verify_timeout}, "
            f"first_list_hold={self.first_list_hold})"
        )

    @classmethod
    def from_store(cls, store: Store) -> Settings:
        values = store.settings()
        return cls(
            trust_on_first_use=values.get("trust_on_first_use", "off") in ("on", "true", "1", "yes"),
            verify_timeout=_number(values.get("verify_timeout"), 30.0),
            first_list_hold=_number(values.get("first_list_hold"), 25.0),
        )


def _number(text: str | None, default: float) -> float:
    """A setting edited by hand into nonsense falls back to its default instead of breaking every shim."""
    try:
        return float(text) if text is not None else default
    except ValueError:
        return default


class Session:
    """Sans-IO state of one client <-> server connection."""

    def __init__(
        self,
        store: Store,
        *,
        client: str,
        name: str,
        command: list[str],
        settings: Settings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.client = client
        self.name = name
        self.command = command
        self.settings = settings if settings is not None else Settings.from_store(store)
        self.clock = clock
        self.server: ServerRecord = store.server(client, name)
        self.first_use = self.server.is_new
        """The server had never been seen before this connection (trust on first use applies)."""
        self.rev = store.decisions_rev()

        self.pins: dict[str, dict[str, ItemView]] = {}
        """kind -> name -> the store's view of every item the server showed on this connection."""
        self.live: dict[str, dict[str, str]] = {}
        """kind -> name -> live fingerprint, for the listing under way or last completed."""
        self.conflicts: dict[str, set[str]] = {}
        """kind -> names the server listed twice with different definitions (never passed)."""
        self.listing_complete: dict[str, bool] = {}
        self.stale: set[str] = set()
        """Kinds the server announced as changed since they were last listed."""
        self.visible: dict[str, dict[str, str]] = {}
        """kind -> name -> fingerprint of the definition the client was shown."""
        self.identity_approved = False
        self.instructions_shown: str | None = None
        self.initialized = False
        """The client finished the handshake (or speaks the stateless revision): notifications may flow."""
        self.capabilities: dict[str, Any] = {}
        self.envelope: dict[str, Any] = {}
        """The reserved ``_meta`` keys of the client's latest stateless request, for our own requests."""

        self.pending: dict[tuple[str, Any], tuple[dict[str, Any], float]] = {}
        """Client requests mcpguard must see answered, by id: (request, time sent)."""
        self.own: dict[tuple[str, Any], OwnRequest] = {}
        self.fetching: set[str] = set()
        """Kinds mcpguard is listing itself right now."""
        self.fetch_errors: dict[str, str] = {}
        """Kinds whose own listing failed, with the server's reason."""
        self.deferred: list[tuple[Any, float]] = []
        """(Flow, since) of calls waiting for mcpguard's own listing."""
        self.held: list[HeldAnswer] = []
        """Listings held back for the user (see steps/first_list_hold.py)."""

        self.to_client: list[dict[str, Any]] = []
        self.to_server: list[dict[str, Any]] = []
        self.audit: list[CallRecord] = []
        """Log records ready to be written (of calls observed at once: large ones)."""
        self.finished: list[Flow] = []
        """Finished calls waiting for the observers (:meth:`Pipeline.observe`), oldest first."""
        self.finished_bytes = 0
        """Bytes of the messages in :attr:`finished`."""
        self.log_since = 0.0
        """When the oldest call waiting for the log finished (the session's clock)."""
        self._ids = itertools.count(1)
        self._id_prefix = f"mcpguard-{os.getpid()}-"

    # -- outboxes ----------------------------------------------------------------------------------

    def send_client(self, message: dict[str, Any]) -> None:
        self.to_client.append(message)

    def request_server(self, method: str, params: dict[str, Any], *, kind: str) -> None:
        """Send a request of mcpguard's own; its ids cannot collide with the client's."""
        msg_id = f"{self._id_prefix}{next(self._ids)}"
        if self.envelope:
            params = {**params, "_meta": {**params.get("_meta", {}), **self.envelope}}
        self.own[("s", msg_id)] = OwnRequest(method, params, kind, self.clock())
        self.to_server.append({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})

    def first_use_actor(self) -> str | None:
        """The actor for trust-on-first-use approvals, when they apply to this connection.

        Only a never-seen server's first connection qualifies; a new tool on a known server never does.
        """
        if self.first_use and self.settings.trust_on_first_use:
            return "trust-on-first-use"
        return None

    # -- pins ------------------------------------------------------------------------------------

    def view(self, kind: str, name: str) -> ItemView | None:
        return self.pins.get(kind, {}).get(name)

    def refresh_pins(self) -> None:
        """Re-read every pin this connection knows from the store (after a decision anywhere)."""
        fresh = {kind: {} for kind in self.pins}  # type: dict[str, dict[str, ItemView]]
        for view in self.store.items(self.server.id):
            if view.kind in fresh and view.name in self.pins[view.kind]:
                fresh[view.kind][view.name] = view
        self.pins = fresh
