"""Notice when a client config changes, and tell what the change means for guarding (no Qt).

:class:`ConfigWatcher` watches the *directories* of the config files with watchdog, not the files:
editors and clients save atomically (write a temporary file, rename it over the config), which
arrives as a move whose ``dest_path`` is the config, and a watch on the old file would be lost
with it. A directory that does not exist yet is watched through its nearest existing ancestor and
picked up when it appears. Bursts of events (one save is often three or four) are debounced per
file, and the callback gets the config's path, from watchdog's thread or a timer thread.

:func:`compare` turns two readings of the configs into what the tray reports: servers added
without mcpguard in front of them, and wraps that a client or the user took out.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from mcpguard.clients.discovery import ServerEntry

log = logging.getLogger(__name__)

DEBOUNCE_SECONDS = 0.2


@dataclass(frozen=True)
class ServerChange:
    """Something the user should hear about after a config changed."""

    kind: Literal["added-unguarded", "wrap-removed"]
    server: ServerEntry


def compare(before: Iterable[ServerEntry], after: Iterable[ServerEntry]) -> list[ServerChange]:
    """What changed between two snapshots of discovered servers, for the user.

    ``added-unguarded``: a local (stdio) server that was not there before (or was not local) and
    runs without mcpguard. ``wrap-removed``: a server that was guarded and now runs without
    mcpguard (a client rewrote its config, or the user undid the wrap by hand). A server that is
    deleted altogether is not reported: nothing runs unguarded because of it.
    """
    old = {s.key: s for s in before}
    changes: list[ServerChange] = []
    for s in after:
        if s.transport != "stdio" or s.guarded:
            continue
        prev = old.get(s.key)
        if prev is None or prev.transport != "stdio":
            changes.append(ServerChange("added-unguarded", s))
        elif prev.guarded:
            changes.append(ServerChange("wrap-removed", s))
    return changes


def _nearest_existing(folder: Path) -> Path:
    while not folder.is_dir() and folder.parent != folder:
        folder = folder.parent
    return folder


class ConfigWatcher:
    """Calls ``callback(path)`` shortly after any watched config file is created, changed or replaced.

    ``targets`` are config paths; the last component may be a glob (``.../mcpServers/*.yaml``).
    """

    def __init__(
        self,
        targets: Iterable[str | os.PathLike[str]],
        callback: Callable[[Path], None],
        *,
        debounce: float = DEBOUNCE_SECONDS,
    ) -> None:
        self.targets = [os.path.abspath(os.fspath(t)) for t in targets]
        self.callback = callback
        self.debounce = debounce
        self._lock = threading.Lock()
        self._timers: dict[str, threading.Timer] = {}
        self._watches: dict[str, Any] = {}
        self._observer: Any = None

    def __enter__(self) -> ConfigWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start watching."""
        self._observer = Observer()
        self._sync()
        self._observer.start()

    def stop(self) -> None:
        """Stop watching and drop pending callbacks."""
        with self._lock:
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None

    def _sync(self) -> None:
        """Watch the nearest existing directory of every target (again, after directories appeared)."""
        if self._observer is None:
            return
        handler = _Handler(self)
        wanted = {str(_nearest_existing(Path(os.path.dirname(t)))) for t in self.targets}
        with self._lock:
            for folder in wanted - set(self._watches):
                try:
                    self._watches[folder] = self._observer.schedule(handler, folder, recursive=False)
                except OSError as exc:
                    log.info("cannot watch %s: %s", folder, exc)

    def _matches(self, path: str) -> bool:
        return any(path == t or ("*" in t and fnmatch.fnmatch(path, t)) for t in self.targets)

    def _event(self, path: str, is_directory: bool) -> None:
        path = os.path.abspath(path)
        if is_directory:
            prefix = path + os.sep
            if any(t.startswith(prefix) for t in self.targets):
                self._sync()
                for target in self.targets:
                    if target.startswith(prefix) and os.path.exists(target):
                        self._schedule(target)
            return
        if self._matches(path):
            self._schedule(path)

    def _schedule(self, path: str) -> None:
        with self._lock:
            old = self._timers.pop(path, None)
            if old is not None:
                old.cancel()
            timer = threading.Timer(self.debounce, self._fire, args=(path,))
            timer.daemon = True
            self._timers[path] = timer
            timer.start()

    def _fire(self, path: str) -> None:
        with self._lock:
            self._timers.pop(path, None)
        try:
            self.callback(Path(path))
        except Exception:
            log.exception("the config-change callback failed for %s", path)


class _Handler(FileSystemEventHandler):
    """Forwards watchdog's events (from its thread) to the watcher."""

    def __init__(self, watcher: ConfigWatcher) -> None:
        super().__init__()
        self.watcher = watcher

    def on_created(self, event: FileSystemEvent) -> None:
        self.watcher._event(os.fsdecode(event.src_path), event.is_directory)

    def on_modified(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self.watcher._event(os.fsdecode(event.src_path), False)

    def on_moved(self, event: FileSystemEvent) -> None:
        self.watcher._event(os.fsdecode(event.dest_path), event.is_directory)

    def on_deleted(self, event: FileSystemEvent) -> None:
        if not event.is_directory and self.watcher._matches(os.path.abspath(os.fsdecode(event.src_path))):
            self.watcher._schedule(os.path.abspath(os.fsdecode(event.src_path)))
