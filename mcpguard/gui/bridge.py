"""Turns changes in the store (made by any process) into Qt signals on the GUI thread.

Shims write from their own processes, so there is nothing to connect to: the bridge polls three
counters that every writer bumps (decisions, new definitions, log rows), each a one-row read of a
WAL database that never blocks a writer, and the small table of sign-ins remote bridges ask the
user for. It also beats the tray's heartbeat, by which shims and remote bridges know a user can be
asked.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer, Signal

from mcpguard.audit import AuditLog
from mcpguard.pinning.store import SignInRequest, Store

log = logging.getLogger(__name__)

HEARTBEAT_MS = 3000


class StoreBridge(QObject):
    """Polls the store; emits past-tense signals when something changed."""

    decisions_changed = Signal()
    """Someone approved, denied or revoked something."""
    definitions_changed = Signal()
    """A server showed a definition never seen before (something may wait for approval)."""
    calls_added = Signal()
    """New rows in the tool-call log."""
    signins_changed = Signal()
    """A remote bridge asks the user to sign in, or no longer does (:attr:`signins` holds the current ones)."""

    def __init__(self, store: Store, parent: QObject | None = None, *, poll_ms: int = 400) -> None:
        super().__init__(parent)
        self.store = store
        self.audit = AuditLog(store)
        self._decisions = store.decisions_rev()
        self._definitions = store.observations_rev()
        self._last_call = self.audit.last_id()
        self.signins: list[SignInRequest] = store.signins()
        self._timer = QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self.poll)
        self._heart = QTimer(self)
        self._heart.setInterval(HEARTBEAT_MS)
        self._heart.timeout.connect(self.beat)

    def start(self) -> None:
        self.beat()
        self._timer.start()
        self._heart.start()

    def stop(self) -> None:
        self._timer.stop()
        self._heart.stop()

    def beat(self) -> None:
        try:
            self.store.beat()
        except Exception:
            log.exception("could not record the tray's heartbeat")

    def poll(self) -> None:
        """Compare the counters with the last look; emit for each that moved."""
        try:
            decisions = self.store.decisions_rev()
            definitions = self.store.observations_rev()
            last_call = self.audit.last_id()
            signins = self.store.signins()
        except Exception:
            log.exception("could not read the mcpguard database")
            return
        if definitions != self._definitions:
            self._definitions = definitions
            self.definitions_changed.emit()
        if decisions != self._decisions:
            self._decisions = decisions
            self.decisions_changed.emit()
        if last_call != self._last_call:
            self._last_call = last_call
            self.calls_added.emit()
        if [r.id for r in signins] != [r.id for r in self.signins]:
            self.signins = signins
            self.signins_changed.emit()
