"""A stdlib-only MCP server that does what a JSON script file says, for hostile-server tests.

Run as ``python tests/servers/scripted.py SCRIPT.json [IGNORED...]`` (extra arguments only change the
command line, which mcpguard pins). The script is read once at start; a test
may rewrite it between two starts (the command line, which mcpguard pins, stays the same).

Script keys (all optional)::

    {
      "server_info": {"name": "scripted", "version": "1.0"},
      "phases": [                      # what the server shows; "mutate" moves to the next phase
        {"tools": [TOOL, ...], "instructions": "text"},
        {"pages": [[TOOL, ...], [TOOL, ...]]}      # tools/list pages, joined by nextCursor
      ],
      "phase": 0,                      # the starting phase (env SCRIPTED_PHASE overrides it)
      "notify_on_mutate": true,        # send notifications/tools/list_changed after "mutate"
      "record": "/path/record.jsonl",  # one line per message received (and per echo answer sent)
      "pid_file": "/path/pid",
      "ignore_eof": false,             # keep running after stdin closes
      "ignore_sigterm": false,
      "ignore_methods": []             # requests of these methods are never answered
    }

Tools behave by name, whatever the phase lists: ``echo`` returns ``arguments.text`` (``repeat`` times); ``mutate``
moves to the next phase; ``crash`` exits at once with ``arguments.code`` (default 3) without
answering; ``noise`` writes a non-JSON line and a non-object JSON line to stdout before its answer;
``ask`` sends the client a ``roots/list`` request and answers the call with the client's reply.
Any other tool the current phase lists answers "called NAME"; anything else is an unknown tool.
Calls are answered whether or not the client initialized (2026-07-28 clients do not).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import time
from typing import Any

RECORD_LIMIT = 100_000
"""Messages longer than this are recorded as a summary (size and hash) only."""


class Scripted:
    def __init__(self, script: dict[str, Any]) -> None:
        self.script = script
        self.phases: list[dict[str, Any]] = script.get("phases") or [{"tools": []}]
        self.phase = int(os.environ.get("SCRIPTED_PHASE", script.get("phase", 0)))
        self.record_path: str | None = script.get("record")
        self.out = sys.stdout.buffer
        self.waiting: dict[str, Any] = {}
        """Ids of our own requests to the client -> the tools/call waiting for their answer."""

    # -- wire ------------------------------------------------------------------------------------

    def record(self, direction: str, line: bytes, message: Any) -> None:
        if self.record_path is None:
            return
        entry: dict[str, Any] = {"dir": direction, "size": len(line), "sha256": hashlib.sha256(line).hexdigest()}
        if len(line) <= RECORD_LIMIT:
            entry["message"] = message
        elif isinstance(message, dict):
            entry["message"] = {k: message[k] for k in ("id", "method") if k in message}
        with open(self.record_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    def write_line(self, line: bytes) -> None:
        self.out.write(line + b"\n")
        self.out.flush()

    def send(self, message: dict[str, Any], *, record: bool = False) -> None:
        line = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if record:
            self.record("out", line, message)
        self.write_line(line)

    def result(self, msg_id: Any, value: Any, *, record: bool = False) -> None:
        self.send({"jsonrpc": "2.0", "id": msg_id, "result": value}, record=record)

    def error(self, msg_id: Any, code: int, text: str) -> None:
        self.send({"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": text}})

    # -- state -----------------------------------------------------------------------------------

    @property
    def current(self) -> dict[str, Any]:
        return self.phases[min(self.phase, len(self.phases) - 1)]

    def pages(self) -> list[list[dict[str, Any]]]:
        phase = self.current
        if "pages" in phase:
            pages: list[list[dict[str, Any]]] = phase["pages"]
            return pages
        return [phase.get("tools", [])]

    def listed_names(self) -> set[str]:
        return {tool.get("name") for page in self.pages() for tool in page}

    # -- handling --------------------------------------------------------------------------------

    def handle(self, message: Any) -> None:
        if isinstance(message, dict) and "method" not in message and message.get("id") in self.waiting:
            call_id = self.waiting.pop(message["id"])
            answer = json.dumps(message.get("result", message.get("error")), ensure_ascii=False, sort_keys=True)
            self.result(call_id, {"content": [{"type": "text", "text": f"the client said {answer}"}]})
            return
        if not isinstance(message, dict) or "method" not in message:
            return
        method = message["method"]
        params = message.get("params") or {}
        if "id" not in message or method in self.script.get("ignore_methods", ()):
            return
        msg_id = message["id"]
        if method == "initialize":
            value: dict[str, Any] = {
                "protocolVersion": params.get("protocolVersion", "2025-11-25"),
                "capabilities": {"tools": {"listChanged": True}, "prompts": {}, "resources": {}},
                "serverInfo": self.script.get("server_info", {"name": "scripted", "version": "1.0"}),
            }
            if "instructions" in self.current:
                value["instructions"] = self.current["instructions"]
            self.result(msg_id, value)
        elif method == "ping":
            self.result(msg_id, {})
        elif method == "tools/list":
            pages = self.pages()
            cursor = params.get("cursor")
            index = int(cursor) if cursor is not None else 0
            if not 0 <= index < len(pages):
                self.error(msg_id, -32602, f"bad cursor {cursor!r}")
                return
            page: dict[str, Any] = {"tools": pages[index]}
            if index + 1 < len(pages):
                page["nextCursor"] = str(index + 1)
            self.result(msg_id, page)
        elif method == "prompts/list":
            self.result(msg_id, {"prompts": []})
        elif method == "resources/list":
            self.result(msg_id, {"resources": []})
        elif method == "tools/call":
            self.call(msg_id, params)
        else:
            self.error(msg_id, -32601, f"Method not found: {method}")

    def call(self, msg_id: Any, params: dict[str, Any]) -> None:
        name = params.get("name")
        arguments = params.get("arguments") or {}
        if name == "echo":
            text = arguments.get("text", "") * int(arguments.get("repeat", 1))
            self.result(msg_id, {"content": [{"type": "text", "text": text}]}, record=True)
        elif name == "mutate":
            self.phase += 1
            self.result(msg_id, {"content": [{"type": "text", "text": f"now in phase {self.phase}"}]})
            if self.script.get("notify_on_mutate", True):
                self.send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
        elif name == "crash":
            self.out.flush()
            os._exit(int(arguments.get("code", 3)))
        elif name == "noise":
            self.write_line(b"this line is not JSON {")
            self.write_line(b"42")
            self.result(msg_id, {"content": [{"type": "text", "text": "after the noise"}]})
        elif name == "ask":
            self.waiting[f"scripted-ask-{msg_id}"] = msg_id
            self.send({"jsonrpc": "2.0", "id": f"scripted-ask-{msg_id}", "method": "roots/list", "params": {}})
        elif name in self.listed_names():
            self.result(msg_id, {"content": [{"type": "text", "text": f"called {name}"}]})
        else:
            self.error(msg_id, -32602, f"Unknown tool: {name}")

    def run(self) -> int:
        stdin = sys.stdin.buffer
        while True:
            line = stdin.readline()
            if not line:
                break
            stripped = line.rstrip(b"\r\n")
            if not stripped.strip():
                continue
            try:
                message = json.loads(stripped)
            except ValueError:
                self.record("in", stripped, None)
                continue
            self.record("in", stripped, message)
            if isinstance(message, list):
                for element in message:
                    self.handle(element)
            else:
                self.handle(message)
        if self.script.get("ignore_eof"):
            while True:
                time.sleep(3600)
        return 0


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: scripted.py SCRIPT.json [IGNORED...]", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        script = json.load(f)
    if script.get("pid_file"):
        with open(script["pid_file"], "w", encoding="ascii") as f:
            f.write(str(os.getpid()))
    if script.get("ignore_sigterm"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return Scripted(script).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
