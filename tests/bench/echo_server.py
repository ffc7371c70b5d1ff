"""A minimal, fast stdio MCP server for the shim benchmark (standard library only).

One JSON-RPC 2.0 message per line on stdin, one answer per line on stdout. It answers
``initialize``, ``ping``, ``tools/list`` (one tool, ``echo``) and ``tools/call`` of ``echo``, whose
result is its ``text`` argument, unchanged. Notifications are ignored. It exits when stdin closes.

It is deliberately as cheap as a Python server can be (``json`` and ``sys`` only, no per-message
logging), so that what the benchmark sees on top of it is the shim's cost, not the server's.
Run it as ``python tests/bench/echo_server.py``.
"""

import json
import os
import sys

PROTOCOL_VERSION = "2025-06-18"

ECHO_TOOL = {
    "name": "echo",
    "description": "Returns its text argument unchanged.",
    "inputSchema": {
        "type": "object",
        "properties": {"text": {"type": "string", "description": "The text to return."}},
        "required": ["text"],
    },
}

_dumps = json.JSONEncoder(separators=(",", ":")).encode


def _answer(message):
    """The answer to one decoded message, or None for a notification."""
    if not isinstance(message, dict) or "id" not in message:
        return None
    msg_id = message["id"]
    method = message.get("method")
    params = message.get("params") or {}
    if method == "tools/call":
        arguments = params.get("arguments") or {}
        if params.get("name") != "echo" or not isinstance(arguments.get("text"), str):
            return {"jsonrpc": "2.0", "id": msg_id, "error": {"code": -32602, "message": "Invalid params"}}
        result = {"content": [{"type": "text", "text": arguments["text"]}], "isError": False}
        return {"jsonrpc": "2.0", "id": msg_id, "result": result}
    if method == "ping":
        return {"jsonrpc": "2.0", "id": msg_id, "result": {}}
    if method == "tools/list":
        return {"jsonrpc": "2.0", "id": msg_id, "result": {"tools": [ECHO_TOOL]}}
    if method == "initialize":
        version = params.get("protocolVersion")
        result = {
            "protocolVersion": version if isinstance(version, str) else PROTOCOL_VERSION,
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": "bench-echo", "version": "1.0.0"},
        }
        return {"jsonrpc": "2.0", "id": msg_id, "result": result}
    return {"jsonrpc": "2.0", "id": msg_id, "error": {"code": -32601, "message": f"Method not found: {method}"}}


def _write_all(data):
    """Write to fd 1 directly: no buffering layer to flush, and os.write may write less than asked."""
    view = memoryview(data)
    while view:
        view = view[os.write(1, view) :]


def main():
    stdin = sys.stdin.buffer
    loads = json.loads
    while True:
        line = stdin.readline()
        if not line:
            return 0
        if not line.strip():
            continue
        message = None
        try:
            message = loads(line)
        except ValueError:
            answer = {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error"}}
        else:
            answer = _answer(message)
        del line, message
        if answer is not None:
            data = _dumps(answer).encode("utf-8")
            del answer
            if len(data) < 1 << 16:
                _write_all(data + b"\n")
            else:  # no copy of a large answer just to add the newline
                _write_all(data)
                _write_all(b"\n")
            del data


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (BrokenPipeError, KeyboardInterrupt):
        sys.exit(0)
