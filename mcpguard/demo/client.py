"""A minimal MCP client for the demos: newline-delimited JSON-RPC over a shim's pipes."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from typing import Any


class LineClient:
    """A minimal line-based MCP client over the pipes of a shim guarding the demo server."""

    def __init__(self, env: dict[str, str], server: str, client: str, server_args: list[str]) -> None:
        command = [sys.executable, "-m", "mcpguard.demo.server", *server_args]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mcpguard", "run", "--name", server, "--client", client, "--", *command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self.inbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self.notifications: queue.Queue[dict[str, Any]] = queue.Queue()
        self._ids = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            message = json.loads(line)
            if "id" in message:
                self.inbox.put(message)
            else:
                self.notifications.put(message)

    def send(
        self, method: str, params: dict[str, Any] | None = None, *, notify: bool = False, timeout: float = 15.0
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        if not notify:
            self._ids += 1
            message["id"] = self._ids
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()
        if notify:
            return {}
        return self.inbox.get(timeout=timeout)

    def wait_notification(self, method: str, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.notifications.get(timeout=deadline - time.monotonic())["method"] == method:
                    return True
            except queue.Empty:
                return False
        return False

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
