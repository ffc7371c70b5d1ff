"""A client for the MCP conformance suite's client scenarios that speaks stdio to ``mcpguard remote``.

``conformance client --command "python tests/servers/conformance_driver.py" --scenario S`` runs it as
``conformance_driver.py SERVER_URL``. It does what an AI client does through the bridge: initialize,
list the tools, approve them with ``mcpguard pins approve`` (as the user would), list again and call
the first tool (approving once more if the call is held because the server's authorization server
changed meanwhile, as the user would after seeing that). Signing in happens inside the bridge: the
browser is ``fake_browser.py`` (set as ``BROWSER``), tokens go to the file keyring of the tests, the
profile is a fresh temporary one.
``MCP_CONFORMANCE_CONTEXT`` (JSON) may hold ``client_id`` and ``client_secret`` for pre-registration.
Exits 0 when the tool call was answered, 1 otherwise.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MODERN = "2026-07-28"
MISSING_VERSION = -32020
"""A 2026-07-28 server's answer to an ``initialize`` without ``MCP-Protocol-Version``: speak its way then."""
CIMD_URL = "https://conformance-test.local/client-metadata.json"
"""The client id URL the suite expects (it never fetches it)."""


def main() -> int:
    url = sys.argv[-1]
    home = Path(tempfile.mkdtemp(prefix="mcpguard-conformance-"))
    browser = home / "browser"
    browser.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{ROOT / "tests/servers/fake_browser.py"}" "$@"\n')
    browser.chmod(0o755)
    env = dict(os.environ)
    env.update(
        MCPGUARD_HOME=str(home / "profile"),
        BROWSER=str(browser),
        PYTHON_KEYRING_BACKEND="tests.servers.file_keyring.Keyring",
        FILE_KEYRING_PATH=str(home / "keyring.json"),
        PYTHONPATH=str(ROOT),
        MCPGUARD_SIGNIN_TIMEOUT="15",
        MCPGUARD_GRACE_SECONDS="1",
    )
    args = [sys.executable, "-m", "mcpguard", "remote", url, "--name", "conformance", "--client", "conformance"]
    context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    if context.get("client_id"):
        args += ["--client-id", context["client_id"]]
        if context.get("client_secret"):
            env["MCPGUARD_CLIENT_SECRET"] = context["client_secret"]
    args += ["--client-metadata-url", CIMD_URL]
    bridge = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=ROOT)
    assert bridge.stdin is not None and bridge.stdout is not None
    incoming: queue.Queue[dict[str, Any]] = queue.Queue()
    stdout = bridge.stdout

    def read() -> None:
        for line in stdout:
            try:
                incoming.put(json.loads(line))
            except ValueError:
                pass

    threading.Thread(target=read, daemon=True).start()
    next_id = 0

    def send(message: dict[str, Any]) -> None:
        assert bridge.stdin is not None
        bridge.stdin.write(json.dumps(message).encode() + b"\n")
        bridge.stdin.flush()

    def request(method: str, params: dict[str, Any], timeout: float = 25.0) -> dict[str, Any]:
        nonlocal next_id
        next_id += 1
        send({"jsonrpc": "2.0", "id": next_id, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        while True:
            message = incoming.get(timeout=max(0.01, deadline - time.monotonic()))
            if message.get("id") == next_id and "method" not in message:
                return message
            if "method" in message and "id" in message:  # a request from the server: answer politely
                send({"jsonrpc": "2.0", "id": message["id"], "result": {}})

    try:
        init = request(
            "initialize",
            {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "driver", "version": "1"}},
        )
        meta: dict[str, Any] = {}
        if init.get("error", {}).get("code") == MISSING_VERSION:  # a 2026-07-28 server: no handshake
            meta = {
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": MODERN,
                    "io.modelcontextprotocol/clientCapabilities": {},
                }
            }
        elif "result" not in init:
            print(f"driver: initialize failed: {init}", file=sys.stderr)
            return 1
        else:
            send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        listed = request("tools/list", dict(meta))
        tools = listed.get("result", {}).get("tools", [])

        def approve() -> None:
            subprocess.run(
                [sys.executable, "-m", "mcpguard", "pins", "approve", "conformance", "--all"],
                env=env,
                cwd=ROOT,
                capture_output=True,
                check=False,
            )

        if not tools:
            approve()
            for _ in range(20):
                time.sleep(0.25)
                tools = request("tools/list", dict(meta)).get("result", {}).get("tools", [])
                if tools:
                    break
        if not tools:
            print("driver: the server offers no tools (or they were never approved)", file=sys.stderr)
            return 0 if "result" in listed else 1
        tool = tools[0]
        arguments: dict[str, Any] = {}
        for prop, schema in (tool.get("inputSchema", {}).get("properties") or {}).items():
            kind = schema.get("type") if isinstance(schema, dict) else None
            arguments[prop] = 1 if kind in ("number", "integer") else True if kind == "boolean" else "test"
        answer = request("tools/call", {"name": tool["name"], "arguments": arguments, **meta})
        for attempt in range(8):  # held: the server moved to another authorization server; the user approves it
            content = answer.get("result", {}).get("content") or [{}]
            if not str(content[0].get("text", "")).startswith("mcpguard is holding"):
                break
            if attempt == 0:
                approve()
            time.sleep(0.25)
            answer = request("tools/call", {"name": tool["name"], "arguments": arguments, **meta})
        if "result" not in answer:
            print(f"driver: tools/call failed: {answer.get('error')}", file=sys.stderr)
            return 1
        return 0
    except queue.Empty:
        print("driver: the bridge did not answer in time", file=sys.stderr)
        return 1
    finally:
        if bridge.stdin is not None:
            bridge.stdin.close()
        try:
            bridge.wait(timeout=5)
        except subprocess.TimeoutExpired:
            bridge.kill()


if __name__ == "__main__":
    sys.exit(main())
