"""The tray's watch on the AI clients' configs: watchdog's news, read in the background, told on the GUI thread.

:class:`mcpguard.clients.watch.ConfigWatcher` calls back from watchdog's thread (or a debounce timer's),
and Qt objects may only be touched from the thread they live in. So the callback does the slow part
where it is, reading every config again (a long ``~/.claude.json`` takes a second to parse, which the
GUI thread must not spend), and hands the result over through a signal with a *queued* connection: Qt
posts it to the GUI thread's event loop, where it is compared with the previous reading
(:func:`mcpguard.clients.watch.compare`). What changed becomes :class:`ClientEvent` records for the tray
(notifications) and the "AI clients" page; a server added without mcpguard is wrapped at once when the
user turned ``auto_wrap`` on.

Readings carry a ticket taken before they start; one older than the reading already applied is dropped,
so a slow background read can never report a state that a newer read has replaced.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from PySide6.QtCore import QObject, Qt, Signal, Slot

from mcpguard.clients.discovery import ConfigFile, ServerEntry, candidate_paths, discover, servers
from mcpguard.clients.errors import ClientConfigError
from mcpguard.clients.operations import apply, make_plan
from mcpguard.clients.report import command_line
from mcpguard.clients.risk import Flag, assess
from mcpguard.clients.table import CLIENTS
from mcpguard.clients.watch import DEBOUNCE_SECONDS, ConfigWatcher, ServerChange, compare
from mcpguard.paths import AppPaths
from mcpguard.pinning.store import Store
from mcpguard.scanner import reveal
from mcpguard.settings import DEFAULTS

__all__ = ["ClientEvent", "ConfigWatch", "EventKind", "ServerKey", "client_name", "notification"]

log = logging.getLogger(__name__)

EventKind = Literal["added-unguarded", "wrap-removed", "auto-wrapped", "auto-wrap-failed"]
ServerKey = tuple[str, str, tuple[str, ...], str]
""":attr:`ServerEntry.key`: client, config path, container, name."""

_NAMES = {spec.id: spec.name for spec in CLIENTS}


def client_name(client_id: str) -> str:
    """The client's name as the user knows it (``Claude Desktop`` for ``claude-desktop``)."""
    return _NAMES.get(client_id, client_id)


@dataclass(frozen=True)
class ClientEvent:
    """One thing the user should hear about after a client config changed."""

    kind: EventKind
    server: ServerEntry
    flags: tuple[Flag, ...] = ()
    """Risk flags of the server's own command line (empty for a clean one)."""
    error: str | None = None
    """Why an automatic wrap failed, in one sentence."""


def _shown_name(server: ServerEntry) -> str:
    """The server's name with hidden characters made visible: a config can hold anything."""
    return reveal(server.name)


def _short_command(server: ServerEntry, limit: int = 160) -> str:
    """The command for a notification, which desktops cut anyway; the page shows it whole."""
    text = reveal(command_line(server.original or ()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _one_line(event: ClientEvent) -> str:
    client, name = client_name(event.server.client), _shown_name(event.server)
    return {
        "added-unguarded": f"{client}: new server '{name}' is not guarded",
        "wrap-removed": f"{client}: '{name}' is no longer guarded",
        "auto-wrapped": f"{client}: new server '{name}' was wrapped automatically",
        "auto-wrap-failed": f"{client}: new server '{name}' could not be wrapped",
    }[event.kind]


def notification(events: Sequence[ClientEvent]) -> tuple[str, str]:
    """The title and text of the one notification a batch of events gets.

    One event is told in full (its command and worst risk flag); several are listed one line each, so a
    client that rewrites its whole config does not bury the desktop in notifications.
    """
    if len(events) > 1:
        lines = [_one_line(e) for e in events[:5]]
        if len(events) > 5:
            lines.append(f"… and {len(events) - 5} more")
        return f"{len(events)} changes to AI client configs — click to review", "\n".join(lines)
    (event,) = events
    client, name = client_name(event.server.client), _shown_name(event.server)
    command = _short_command(event.server)
    worst = next((f for f in event.flags if f.severity == "danger"), event.flags[0] if event.flags else None)
    flag = f"\n{worst.severity.capitalize()}: {worst.reason}." if worst is not None else ""
    if event.kind == "added-unguarded":
        return f"{client}: new MCP server '{name}' is not guarded — click to review", f"It runs: {command}{flag}"
    if event.kind == "auto-wrapped":
        return (
            f"{client}: new MCP server '{name}' was wrapped automatically",
            f"From its next start mcpguard holds its tools until you approve them. It runs: {command}{flag}",
        )
    if event.kind == "auto-wrap-failed":
        return (
            f"{client}: new MCP server '{name}' is not guarded — click to review",
            f"Wrapping it automatically failed: {event.error}",
        )
    return (
        f"{client}: '{name}' is no longer guarded",
        f"mcpguard was taken out of its entry in {event.server.config} ({client} or a person rewrote it). "
        "Click to review and wrap it again.",
    )


class ConfigWatch(QObject):
    """Watches every config a known client may keep; emits readings and events on the GUI thread.

    Args:
        store: Where the ``auto_wrap`` setting is read.
        paths: The profile: automatic wraps back up the configs into it and record what they replaced.
        parent: The Qt parent.
        env: Where ``HOME``, ``XDG_CONFIG_HOME`` and ``APPDATA`` come from; None reads ``os.environ`` at
            every reading, so a test or a user pointing ``HOME`` elsewhere is followed.
        platform: ``linux``, ``darwin`` or ``win32``; None is this machine.
        debounce: Seconds of quiet after a file's last event before it is read again.
        launcher: The command that starts mcpguard in wrapped entries; None finds this installation's.

    Call :meth:`start` once the event loop runs and :meth:`stop` before the application quits: stop
    joins watchdog's thread and waits for a reading in progress, so nothing emits into a dead object.
    """

    scanned = Signal(object)
    """A new reading of every config (``list[ConfigFile]``), the first one included."""
    events = Signal(object)
    """``list[ClientEvent]``: what changed since the previous reading, never empty."""
    _delivered = Signal(int, object)
    """A background reading (ticket, configs), emitted from another thread and queued to this one."""

    def __init__(
        self,
        store: Store,
        paths: AppPaths,
        parent: QObject | None = None,
        *,
        env: Mapping[str, str] | None = None,
        platform: str | None = None,
        debounce: float = DEBOUNCE_SECONDS,
        launcher: Sequence[str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.paths = paths
        self.env = env
        self.platform = platform
        self.debounce = debounce
        self.launcher = list(launcher) if launcher is not None else None
        self.configs: list[ConfigFile] = []
        """The last reading applied."""
        self._snapshot: list[ServerEntry] | None = None
        self._applied = -1
        self._tickets = 0
        self._ticket_lock = threading.Lock()
        self._scan_lock = threading.Lock()
        """One background reading at a time: a burst of saves must not parse the same big file in parallel."""
        self._stopped = True
        self._watcher: ConfigWatcher | None = None
        self._first: threading.Thread | None = None
        self._own_unwraps: set[ServerKey] = set()
        # Queued: the slot runs in this object's (the GUI) thread, whichever thread emitted.
        self._delivered.connect(self._on_delivered, Qt.ConnectionType.QueuedConnection)

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Watch every place a known client keeps its config, and take the first reading in the background.

        The first reading is the baseline: servers that were there before the tray started are shown on
        the page, not announced one by one.
        """
        if not self._stopped:
            return
        self._stopped = False
        targets = [path for _, _, path, _ in candidate_paths(self.env, self.platform)]
        self._watcher = ConfigWatcher(targets, self._on_watcher_changed, debounce=self.debounce)
        self._watcher.start()
        self._first = threading.Thread(target=self._read_in_background, name="mcpguard-config-read", daemon=True)
        self._first.start()

    def stop(self) -> None:
        """Stop watching; returns once no thread of this watch can emit any more."""
        self._stopped = True
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        with self._scan_lock:
            pass  # a reading in progress has finished (and saw _stopped before emitting)
        if self._first is not None:
            self._first.join(timeout=10)
            self._first = None

    @property
    def running(self) -> bool:
        return not self._stopped

    # -- readings -----------------------------------------------------------------------------------

    def _ticket(self) -> int:
        with self._ticket_lock:
            self._tickets += 1
            return self._tickets

    def _read(self) -> list[ConfigFile]:
        return discover(self.env, self.platform)

    def _on_watcher_changed(self, path: Path) -> None:
        """Watchdog's callback (its timer thread): read again there, then hand over to the GUI thread."""
        self._read_in_background()

    def _read_in_background(self) -> None:
        with self._scan_lock:
            if self._stopped:
                return
            ticket = self._ticket()
            try:
                configs = self._read()
            except Exception:
                log.exception("could not read the AI clients' configs")
                return
            if not self._stopped:
                self._delivered.emit(ticket, configs)

    @Slot()
    def rescan(self) -> None:
        """Read every config now, on this thread, and report what changed (tests, the page's refresh)."""
        self._apply(self._ticket(), self._read())

    @Slot(int, object)
    def _on_delivered(self, ticket: int, configs: list[ConfigFile]) -> None:
        if not self._stopped:
            self._apply(ticket, configs)

    def _apply(self, ticket: int, configs: list[ConfigFile]) -> None:
        if ticket <= self._applied:
            return  # a newer reading was applied meanwhile
        self._applied = ticket
        after = servers(configs)
        changes = compare(self._snapshot, after) if self._snapshot is not None else []
        changes = [c for c in changes if not (c.kind == "wrap-removed" and c.server.key in self._own_unwraps)]
        self._own_unwraps -= {s.key for s in after if not s.guarded}
        self._snapshot = after
        self.configs = configs
        self.scanned.emit(configs)
        if changes:
            events = self._react(changes)
            self.events.emit(events)

    @Slot(str, object)
    def on_applied(self, kind: str, keys: Iterable[ServerKey]) -> None:
        """The page wrapped or unwrapped these servers: an unwrap the user asked for is not news."""
        if kind == "unwrap":
            self._own_unwraps |= set(keys)

    # -- reacting -----------------------------------------------------------------------------------

    def auto_wrap(self) -> bool:
        """True when the user asked for new servers to be wrapped without asking (setting ``auto_wrap``)."""
        return self.store.setting("auto_wrap", DEFAULTS["auto_wrap"]) == "on"

    def _react(self, changes: list[ServerChange]) -> list[ClientEvent]:
        """Events for the changes; with ``auto_wrap`` on, new unguarded servers are wrapped first.

        A removed wrap is reported but not put back: a client that keeps rewriting its config would
        fight mcpguard forever, and a person who took it out meant it.
        """
        auto = self.auto_wrap()
        events: list[ClientEvent] = []
        for change in changes:
            server = change.server
            flags = tuple(assess(server.original or ()))
            if change.kind == "added-unguarded" and auto:
                error = self._wrap(server)
                kind: EventKind = "auto-wrapped" if error is None else "auto-wrap-failed"
                events.append(ClientEvent(kind, server, flags, error))
                if error is not None:
                    log.info("could not wrap %s of %s automatically: %s", server.name, server.client, error)
            else:
                events.append(ClientEvent(change.kind, server, flags))
        if any(e.kind == "auto-wrapped" for e in events):
            self.rescan()  # the page shows them guarded at once; the wrap itself is no news
        return events

    def _wrap(self, server: ServerEntry) -> str | None:
        """Wrap one server through the core (backup, atomic write, verify); the error sentence, or None."""
        config = next((c for c in self.configs if c.path == server.config and c.spec.id == server.client), None)
        if config is None:
            return f"{server.config} is no longer there"
        # Only this entry: a same-named server in another container (a Claude Code project) stays as it is.
        only = replace(config, servers=tuple(s for s in config.servers if s.key == server.key))
        try:
            plan = make_plan("wrap", [only], launcher=self.launcher)
            if plan.errors or not plan.actions:
                return plan.errors[0] if plan.errors else f"{server.config} no longer has it as a local server"
            results = apply(plan, self.paths)
        except (ClientConfigError, OSError) as exc:
            return str(exc)
        failed = next((r.error for r in results if r.error is not None), None)
        return failed
