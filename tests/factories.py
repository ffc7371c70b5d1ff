"""Small builders of MCP messages, so tests read as what goes over the wire."""

from __future__ import annotations

from typing import Any


def make_tool(name: str = "read_file", description: str = "Read a file.", **extra: Any) -> dict[str, Any]:
    tool: dict[str, Any] = {
        "name": name,
        "description": description,
        "inputSchema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    }
    tool.update(extra)
    return tool


def request(msg_id: Any, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def notification(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message


def result(msg_id: Any, value: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "result": value}


def error(msg_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}


def initialize(msg_id: Any = 0, version: str = "2025-11-25") -> dict[str, Any]:
    return request(
        msg_id,
        "initialize",
        {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "test-client", "version": "1"}},
    )


def initialize_result(
    msg_id: Any = 0, *, instructions: str | None = None, name: str = "test-server", list_changed: bool = False
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "protocolVersion": "2025-11-25",
        "capabilities": {"tools": {"listChanged": list_changed}, "prompts": {}},
        "serverInfo": {"name": name, "version": "1.0"},
    }
    if instructions is not None:
        value["instructions"] = instructions
    return result(msg_id, value)


def call(msg_id: Any, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
    return request(msg_id, "tools/call", {"name": name, "arguments": arguments or {}})


def text_result(msg_id: Any, text: str, *, is_error: bool = False) -> dict[str, Any]:
    return result(msg_id, {"content": [{"type": "text", "text": text}], "isError": is_error})
