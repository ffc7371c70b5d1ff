"""A client for the MCP conformance suite's client scenarios that speaks stdio to ``mcpguard remote``.

``conformance client --command "python tests/servers/conformance_driver.py" --scenario S`` runs it as
``conformance_driver.py SERVER_URL``. It does what an AI client does through the bridge: open the
conversation, list the tools, approve them with ``mcpguard pins approve`` (as the user would), list again
and call tools (approving once more if a call is held because the server's authorization server changed
meanwhile, as the user would after seeing that). Signing in happens inside the bridge: the browser is
``fake_browser.py`` (set as ``BROWSER``), tokens go to the file keyring of the tests, the profile is a
fresh temporary one.

What the suite tells its client, and how the driver uses it:

- ``MCP_CONFORMANCE_PROTOCOL_VERSION``: the revision the scenario runs at (the alpha sets it; 0.1.16 does
  not). At ``2026-07-28`` or later the driver is a modern client from the first request: no
  ``initialize``, every request carries the per-request ``_meta`` envelope (the bridge sends the 2026-07-28
  request headers, ``MCP-Protocol-Version``, ``Mcp-Method``, ``Mcp-Name``, ``Mcp-Param-*``, only for such
  requests). Below it, or unset, the driver opens with the legacy ``initialize`` handshake, and turns
  modern when the server refuses that with a modern error (``-32020`` or ``-32022``), as a dual-era client
  does (versioning.mdx, "Backward Compatibility with Initialization-Based Versions").
- ``MCP_CONFORMANCE_CONTEXT`` (JSON): ``client_id`` and ``client_secret`` for pre-registration, and
  ``toolCalls`` (a list of ``{"name", "arguments"}``): when present the driver makes exactly those calls,
  in order, instead of calling the first tool listed with made-up arguments.

A modern request answered with ``UnsupportedProtocolVersionError`` (``-32022``) whose ``supported`` list
names a version the driver speaks is sent once more, as the spec says a client SHOULD.
Exits 0 when every tool call was answered (or the server offers no tools), 1 otherwise.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LEGACY = "2025-11-25"
"""The version the driver asks for in an ``initialize`` handshake."""
MODERN = "2026-07-28"
"""The first revision without a handshake: version, capabilities and identity travel in every request's ``_meta``."""
HEADER_MISMATCH = -32020
"""A 2026-07-28 server's answer to a request without (or with wrong) ``MCP-Protocol-Version``/``Mcp-*`` headers,
such as an ``initialize``: a modern error, so the server is modern."""
UNSUPPORTED_VERSION = -32022
"""``UnsupportedProtocolVersionError``: a modern error whose ``data.supported`` names the versions to retry with."""
MODERN_ERRORS = (HEADER_MISMATCH, UNSUPPORTED_VERSION)
CLIENT_INFO = {"name": "mcpguard-conformance-driver", "version": "1"}
CIMD_URL = "https://conformance-test.local/client-metadata.json"
"""The client id URL the suite expects (it never fetches it)."""
HELD_PREFIX = "mcpguard is holding"
"""How the bridge's answer to a call it holds for the user's approval begins."""
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def speaks_modern(version: str | None) -> bool:
    """Whether the suite runs the scenario at a revision without handshake (``2026-07-28`` or later).

    Revisions are dates, so they compare as strings; anything else (unset, ``draft``) means legacy, and the
    refusal of the handshake still switches to modern then.
    """
    return version is not None and _DATE.fullmatch(version) is not None and version >= MODERN


def envelope(version: str) -> dict[str, Any]:
    """The per-request ``_meta`` of a modern client: version and capabilities (required), identity (SHOULD).

    Capabilities are empty: the driver answers server requests with an empty result and declares nothing.
    """
    return {
        "io.modelcontextprotocol/protocolVersion": version,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": dict(CLIENT_INFO),
    }


def error_code(answer: dict[str, Any]) -> int | None:
    error = answer.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) else None


def retry_version(answer: dict[str, Any]) -> str | None:
    """The version to retry an ``UnsupportedProtocolVersionError`` with: the modern one the driver speaks, if listed."""
    if error_code(answer) != UNSUPPORTED_VERSION:
        return None
    data = answer["error"].get("data")
    supported = data.get("supported") if isinstance(data, dict) else None
    if not isinstance(supported, list):
        return None
    return MODERN if MODERN in supported else None


def tool_calls(context: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The calls the scenario asks for in its context (``toolCalls``), as (name, arguments); empty if none."""
    calls = context.get("toolCalls")
    if not isinstance(calls, list):
        return []
    named = []
    for call in calls:
        if isinstance(call, dict) and isinstance(call.get("name"), str):
            arguments = call.get("arguments")
            named.append((call["name"], dict(arguments) if isinstance(arguments, dict) else {}))
    return named


def made_up_arguments(tool: dict[str, Any]) -> dict[str, Any]:
    """Arguments that fit the tool's schema well enough for a mock server: 1, true, or "test"."""
    arguments: dict[str, Any] = {}
    schema = tool.get("inputSchema")
    properties = schema.get("properties") if isinstance(schema, dict) else None
    for prop, spec in (properties if isinstance(properties, dict) else {}).items():
        kind = spec.get("type") if isinstance(spec, dict) else None
        arguments[prop] = 1 if kind in ("number", "integer") else True if kind == "boolean" else "test"
    return arguments


class Bridge:
    """``mcpguard remote`` as a child process, spoken to as an AI client would over stdio.

    ``version`` is None while the conversation is legacy (after ``initialize``), else the modern revision
    whose ``_meta`` envelope every request gets.
    """

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.env = env
        self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=ROOT)
        self.incoming: queue.Queue[dict[str, Any]] = queue.Queue()
        self.next_id = 0
        self.version: str | None = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict):
                self.incoming.put(message)

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        self.process.stdin.flush()

    def _exchange(self, method: str, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        self.next_id += 1
        if self.version is not None:
            params = {**params, "_meta": {**params.get("_meta", {}), **envelope(self.version)}}
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        while True:
            message = self.incoming.get(timeout=max(0.01, deadline - time.monotonic()))
            if message.get("id") == self.next_id and "method" not in message:
                return message
            if "method" in message and "id" in message:  # a request from the server: answer politely
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": {}})

    def request(self, method: str, params: dict[str, Any], timeout: float = 25.0) -> dict[str, Any]:
        """Send a request and wait for its answer (raises ``queue.Empty`` past ``timeout``).

        A modern request refused with ``UnsupportedProtocolVersionError`` is sent once more with a version the
        server lists, as versioning.mdx says a client SHOULD (``request-metadata`` refuses the first request
        whatever it names, and checks the retry).
        """
        answer = self._exchange(method, params, timeout)
        if self.version is not None:
            version = retry_version(answer)
            if version is not None:
                self.version = version
                answer = self._exchange(method, params, timeout)
        return answer

    def open(self, modern: bool) -> str | None:
        """Begin the conversation; None when ready, else why not.

        Modern: nothing to send, the envelope goes with every request. Legacy: ``initialize`` (and
        ``notifications/initialized``); a modern error in answer means a modern server, so the driver turns
        modern (a handshake-less server may name the versions it speaks in a ``-32022``).
        """
        if modern:
            self.version = MODERN
            return None
        init = self.request(
            "initialize", {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": dict(CLIENT_INFO)}
        )
        if error_code(init) in MODERN_ERRORS:
            self.version = retry_version(init) or MODERN
            return None
        if "result" not in init:
            return f"initialize failed: {init}"
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return None

    def approve(self) -> None:
        """Approve every tool of the server as the user would, with ``mcpguard pins approve``."""
        subprocess.run(
            [sys.executable, "-m", "mcpguard", "pins", "approve", "conformance", "--all"],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            check=False,
        )

    def list_tools(self, opening: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """List the tools, approving them first if the bridge holds them all back as new, then list again.

        ``opening``: this listing is the conversation's first request (a modern one from the start). If it
        fails (a refused sign-in, say), there is no conversation, as when a legacy ``initialize`` fails: the
        driver does not list again, since each listing would make the bridge try to sign in again. After a
        handshake, a failed listing is listed again like an empty one (``auth/scope-retry-limit`` counts on
        the repeated requests to show that the bridge stops re-authorizing).
        """
        listed = self.request("tools/list", {})
        tools = listed.get("result", {}).get("tools", [])
        if not tools and ("result" in listed or not opening):
            self.approve()
            for _ in range(20):
                time.sleep(0.25)
                tools = self.request("tools/list", {}).get("result", {}).get("tools", [])
                if tools:
                    break
        return listed, tools

    def call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Call a tool; if the bridge holds the call (the server moved to another authorization server), the
        user approves once and the call is made again until it goes through."""
        answer = self.request("tools/call", {"name": name, "arguments": arguments})
        for attempt in range(8):
            content = answer.get("result", {}).get("content") or [{}]
            if not str(content[0].get("text", "")).startswith(HELD_PREFIX):
                break
            if attempt == 0:
                self.approve()
            time.sleep(0.25)
            answer = self.request("tools/call", {"name": name, "arguments": arguments})
        return answer

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()


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
    bridge = Bridge(args, env)
    try:
        modern = speaks_modern(os.environ.get("MCP_CONFORMANCE_PROTOCOL_VERSION"))
        failure = bridge.open(modern)
        if failure is not None:
            print(f"driver: {failure}", file=sys.stderr)
            return 1
        listed, tools = bridge.list_tools(opening=modern)
        if modern and "result" not in listed:
            print(f"driver: the first request failed: {listed.get('error')}", file=sys.stderr)
            return 1
        calls = tool_calls(context)
        if not calls:
            if not tools:
                print("driver: the server offers no tools (or they were never approved)", file=sys.stderr)
                return 0 if "result" in listed else 1
            calls = [(tools[0]["name"], made_up_arguments(tools[0]))]
        status = 0
        for name, arguments in calls:
            answer = bridge.call(name, arguments)
            if "result" not in answer:
                print(f"driver: tools/call {name} failed: {answer.get('error')}", file=sys.stderr)
                status = 1
        return status
    except queue.Empty:
        print("driver: the bridge did not answer in time", file=sys.stderr)
        return 1
    finally:
        bridge.close()


if __name__ == "__main__":
    sys.exit(main())
