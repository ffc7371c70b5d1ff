"""``mcpguard demo``: a scripted client walks through the whole approval flow in the terminal.

It plays the part of an AI client talking to the bundled demo server through a real shim, and the
part of the user deciding, so a new user sees in a minute what mcpguard does: a new server's tools
held, approved, called, then a rug pull caught, held and shown with its hidden text made visible.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

from mcpguard.demo.client import LineClient
from mcpguard.paths import HOME_ENV, AppPaths

SERVER = "demo"
CLIENT = "mcpguard-demo"
DEMO_SERVER_ARGS = ["--rug-pull-after", "2"]


def _say(text: str) -> None:
    print(f"\n\033[1m▶ {text}\033[0m" if sys.stdout.isatty() else f"\n> {text}", flush=True)


def _show(text: str) -> None:
    for line in text.rstrip().splitlines():
        print(f"    {line}")


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "mcpguard", *args], env=env, capture_output=True, text=True, timeout=30
    )
    return done.stdout + done.stderr


def _wait_for_log(home: str, count: int, timeout: float = 5.0) -> bool:
    """Wait until the log holds ``count`` calls: the shim writes it when calls pause, off the relay path."""
    from mcpguard.audit import AuditLog
    from mcpguard.pinning.store import Store

    store = Store.open(AppPaths.under(home))
    try:
        log, deadline = AuditLog(store), time.monotonic() + timeout
        while log.last_id() < count:  # the demo's profile is new: ids count its calls
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True
    finally:
        store.close()


def _tool_names(reply: dict[str, Any]) -> list[str]:
    return [t["name"] for t in reply.get("result", {}).get("tools", [])]


def _text(reply: dict[str, Any]) -> str:
    result = reply.get("result")
    if result is None:
        return f"error {reply['error']['code']}: {reply['error']['message']}"
    return " ".join(c.get("text", "") for c in result.get("content", []))


@contextlib.contextmanager
def _profile(keep: bool) -> Iterator[str]:
    if keep:
        home = os.path.join(tempfile.gettempdir(), f"mcpguard-demo-{os.getpid()}")
        yield home
        return
    with tempfile.TemporaryDirectory(prefix="mcpguard-demo-") as home:
        yield home


def run_walkthrough(*, keep: bool = False) -> int:
    """Run the scripted demo; returns 0 when every step behaved as mcpguard promises."""
    with _profile(keep) as home:
        env = {**os.environ, HOME_ENV: home}
        AppPaths.under(home).ensure()
        print(f"mcpguard demo — a separate profile in {home}; your real settings are not touched.")
        client = LineClient(env, SERVER, CLIENT, DEMO_SERVER_ARGS)
        ok = True
        try:
            ok = _script(client, env)
        finally:
            client.close()
        if keep:
            print(f"\nThe demo profile stays in {home}: MCPGUARD_HOME={home} mcpguard pins list")
    print("\nDemo complete." if ok else "\nThe demo did not go as expected; see above.")
    return 0 if ok else 1


def _script(client: LineClient, env: dict[str, str]) -> bool:
    ok = True
    _say("An AI client starts the demo server through mcpguard and asks for its tools.")
    init = client.send(
        "initialize",
        {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": CLIENT, "version": "1"}},
    )
    client.send("notifications/initialized", notify=True)
    info = init["result"]["serverInfo"]
    _show(f"server: {info['name']} {info['version']}")
    names = _tool_names(client.send("tools/list"))
    _show(f"tools the model can see: {names or 'none'}")
    ok &= names == []
    _say("mcpguard has never seen this server, so it holds everything for the user:")
    _show(_cli(env, "pins", "list"))

    _say("The user approves the server and its tools (mcpguard pins approve demo --all).")
    _show(_cli(env, "pins", "approve", SERVER, "--all"))
    got = client.wait_notification("notifications/tools/list_changed")
    _show(f"mcpguard told the client its tools changed: {got}")
    ok &= got
    names = _tool_names(client.send("tools/list"))
    _show(f"tools the model can see now: {names}")
    ok &= len(names) == 4

    _say("The model uses two tools.")
    _show("add(2, 3) -> " + _text(client.send("tools/call", {"name": "add", "arguments": {"a": 2, "b": 3}})))
    _show("get_time() -> " + _text(client.send("tools/call", {"name": "get_time", "arguments": {}})))

    _say("Behind the user's back, the server rewrites read_note (a rug pull) and says its list changed.")
    client.wait_notification("notifications/tools/list_changed")
    listed = client.send("tools/list")["result"]["tools"]
    shown = next(t for t in listed if t["name"] == "read_note")
    _show(f"read_note as the model sees it: {shown['description']!r}")
    reply = client.send("tools/call", {"name": "read_note", "arguments": {"title": "welcome"}})
    _show("read_note(...) -> " + _text(reply))
    ok &= bool(reply.get("result", {}).get("isError"))

    _say("What changed, with the hidden characters made visible (mcpguard pins diff demo read_note):")
    _show(_cli(env, "pins", "diff", SERVER, "read_note"))

    _say("The user denies the change. The tool-call log records what happened:")
    _show(_cli(env, "pins", "deny", SERVER, "read_note"))
    ok &= _wait_for_log(env[HOME_ENV], 3)  # add, get_time, and the read_note call mcpguard held
    _show(_cli(env, "log"))
    _show(_cli(env, "log", "verify"))
    return ok
