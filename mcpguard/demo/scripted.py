"""The tray demo's AI client: uses the demo server through a real shim until the demo stops.

It starts a never-seen server (so the tray asks first), then calls a tool every few seconds; the
demo server rewrites one tool after three calls, and the client keeps trying it, so the activity
view shows calls passing, then held, until the user decides.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from mcpguard.demo.client import LineClient
from mcpguard.paths import HOME_ENV, AppPaths
from mcpguard.pinning.store import Store

log = logging.getLogger(__name__)

SERVER = "mcpguard-demo"
CLIENT = "demo-client"
CALLS: list[tuple[str, dict[str, Any]]] = [
    ("get_time", {}),
    ("add", {"a": 40, "b": 2}),
    ("read_note", {"title": "welcome"}),
    ("save_note", {"title": "groceries", "body": "oat milk, lemons"}),
    ("read_note", {"title": "groceries"}),
]


class ScriptedDemo(threading.Thread):
    """Runs in the tray process, beside the GUI; talks only through the shim, as a real client would."""

    def __init__(self, paths: AppPaths, *, interval: float = 4.0, say: Callable[[str], None] | None = None) -> None:
        super().__init__(name="demo-client", daemon=True)
        self.paths = paths
        self.interval = interval
        self.say = say or (lambda text: log.info("demo: %s", text))
        self.stopped = threading.Event()

    def stop(self) -> None:
        self.stopped.set()

    def run(self) -> None:
        store = Store.open(self.paths)
        for server in store.find_servers(SERVER, CLIENT):
            store.forget(server.id)  # every demo starts as a first meeting
        store.close()
        env = {**os.environ, HOME_ENV: str(self.paths.home)}
        client = LineClient(env, SERVER, CLIENT, ["--rug-pull-after", "3"])
        try:
            self._script(client)
        except Exception:
            log.exception("the demo client stopped")
        finally:
            client.close()

    def _script(self, client: LineClient) -> None:
        client.send(
            "initialize",
            {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": CLIENT, "version": "1"}},
        )
        client.send("notifications/initialized", notify=True)
        self.say("The demo client asks the new server for its tools; mcpguard asks you first.")
        tools = self._list(client)
        turn = 0
        while not self.stopped.wait(self.interval):
            if client.wait_notification("notifications/tools/list_changed", timeout=0.01):
                tools = self._list(client)
            name, arguments = CALLS[turn % len(CALLS)]
            turn += 1
            if name not in tools:
                continue
            reply = client.send("tools/call", {"name": name, "arguments": arguments})
            result = reply.get("result") or {}
            self.say(f"{name} -> {'held/error' if result.get('isError') or 'error' in reply else 'ok'}")

    def _list(self, client: LineClient) -> set[str]:
        reply = client.send("tools/list", timeout=120)
        return {t["name"] for t in reply.get("result", {}).get("tools", [])}
