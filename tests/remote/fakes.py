"""A Streamable HTTP MCP server inside an ``httpx.MockTransport``: the transport's tests without sockets.

:class:`FakeServer` speaks just enough of the protocol (sessions, JSON or SSE answers, 202 for
notifications, the GET stream, DELETE) and records every request, so a test reads as "the client
sent this, the server answered that". Tests change its behaviour with ``on_post`` / ``on_get``
hooks that may return their own response.
"""

from __future__ import annotations

import itertools
import json
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from mcpguard.remote.endpoint import check_url
from mcpguard.remote.transport import HttpTransport, Outgoing

URL = "https://mcp.example.com/mcp"
VERSION = "2025-11-25"

Json = dict[str, Any]


def encode(message: Any) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def sse(*messages: Any, ids: list[str] | None = None, retry: int | None = None, prime: str | None = None) -> bytes:
    """An SSE body: an optional priming event (id, empty data), then one event per message."""
    out = b""
    if prime is not None:
        out += f"id: {prime}\n".encode() + (f"retry: {retry}\n".encode() if retry is not None else b"") + b"data:\n\n"
    for i, message in enumerate(messages):
        if ids is not None:
            out += f"id: {ids[i]}\n".encode()
        out += b"event: message\ndata: " + encode(message) + b"\n\n"
    return out


def init_request(msg_id: Any = 0, version: str = VERSION) -> Json:
    return {
        "jsonrpc": "2.0",
        "id": msg_id,
        "method": "initialize",
        "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}},
    }


def request(msg_id: Any, method: str, params: Json | None = None) -> Json:
    message: Json = {"jsonrpc": "2.0", "id": msg_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def notification(method: str, params: Json | None = None) -> Json:
    message: Json = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message


TOOLS = [
    {"name": "echo", "description": "Echo the text.", "inputSchema": {"type": "object"}},
    {"name": "add", "description": "Add numbers.", "inputSchema": {"type": "object"}},
]


class FakeServer:
    """The server side of one Streamable HTTP endpoint, driven by httpx's MockTransport."""

    def __init__(self, *, mode: str = "json", version: str = VERSION, tools: list[Json] | None = None) -> None:
        self.mode = mode
        """``json`` or ``sse``: how requests are answered."""
        self.version = version
        self.tools = list(TOOLS if tools is None else tools)
        self.requests: list[httpx.Request] = []
        self.bodies: list[Any] = []
        """Parsed bodies of the POSTs, in order."""
        self.sessions: set[str] = set()
        self._session_ids = itertools.count(1)
        self.on_post: Callable[[httpx.Request, Any], httpx.Response | None] | None = None
        self.on_get: Callable[[httpx.Request], httpx.Response | None] | None = None
        self.stream: queue.Queue[bytes | None] | None = None
        """When set, a GET opens a stream fed from this queue (None ends it)."""
        self.lock = threading.Lock()

    def __call__(self, req: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(req)
        if req.method == "POST":
            body = json.loads(req.content)
            with self.lock:
                self.bodies.append(body)
            if self.on_post is not None:
                custom = self.on_post(req, body)
                if custom is not None:
                    return custom
            return self.post(req, body)
        if req.method == "GET":
            if self.on_get is not None:
                custom = self.on_get(req)
                if custom is not None:
                    return custom
            return self.get(req)
        if req.method == "DELETE":
            self.sessions.discard(req.headers.get("mcp-session-id", ""))
            return httpx.Response(200)
        return httpx.Response(405)

    # -- the protocol ----------------------------------------------------------------------------

    def post(self, req: httpx.Request, body: Any) -> httpx.Response:
        if isinstance(body, dict) and body.get("method") == "initialize":
            sid = f"session-{next(self._session_ids)}"
            self.sessions.add(sid)
            answer = {"jsonrpc": "2.0", "id": body["id"], "result": self.initialize_result()}
            return self.answer(answer, headers={"mcp-session-id": sid})
        sid = req.headers.get("mcp-session-id")
        if sid is None:
            return httpx.Response(400, json={"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "x"}})
        if sid not in self.sessions:
            return httpx.Response(
                404, json={"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "gone"}}
            )
        if not (isinstance(body, dict) and "method" in body and "id" in body):
            return httpx.Response(202)
        return self.answer({"jsonrpc": "2.0", "id": body["id"], "result": self.result(body)})

    def initialize_result(self) -> Json:
        return {
            "protocolVersion": self.version,
            "capabilities": {"tools": {"listChanged": True}},
            "serverInfo": {"name": "fake", "version": "1.0"},
        }

    def result(self, body: Json) -> Any:
        method = body["method"]
        if method == "tools/list":
            return {"tools": self.tools}
        if method == "tools/call":
            args = body.get("params", {}).get("arguments", {})
            return {"content": [{"type": "text", "text": json.dumps(args)}], "isError": False}
        return {}

    def answer(self, message: Json, headers: dict[str, str] | None = None) -> httpx.Response:
        headers = dict(headers or {})
        if self.mode == "sse":
            headers["content-type"] = "text/event-stream"
            return httpx.Response(200, headers=headers, content=sse(message))
        return httpx.Response(200, headers=headers, json=message)

    def get(self, req: httpx.Request) -> httpx.Response:
        if self.stream is None:
            return httpx.Response(405)
        if req.headers.get("mcp-session-id") not in self.sessions:
            return httpx.Response(404)
        feed = self.stream

        def events() -> Iterator[bytes]:
            while True:
                item = feed.get()
                if item is None:
                    return
                yield item

        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=events())

    # -- what happened ---------------------------------------------------------------------------

    def posts(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == "POST"]

    def methods(self) -> list[str | None]:
        """The method of every POSTed body (None for a response or a batch)."""
        return [b.get("method") if isinstance(b, dict) else None for b in self.bodies]


class Delivered:
    """Collects what the transport delivers, parsed; waits for it when a thread delivers."""

    def __init__(self) -> None:
        self.raw: list[Any] = []
        self._cond = threading.Condition()

    def __call__(self, data: Any) -> None:
        with self._cond:
            self.raw.append(data)
            self._cond.notify_all()

    @property
    def messages(self) -> list[Any]:
        with self._cond:
            return [json.loads(bytes(d)) for d in self.raw if isinstance(d, bytes | bytearray)]

    def wait(self, count: int, timeout: float = 5.0) -> list[Any]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.raw) >= count, timeout):
                raise AssertionError(f"expected {count} deliveries, got {self.raw}")
        return self.messages


def make_transport(
    server: Callable[[httpx.Request], httpx.Response],
    delivered: Callable[[Any], None],
    url: str = URL,
    **kwargs: Any,
) -> HttpTransport:
    http = httpx.Client(transport=httpx.MockTransport(server), follow_redirects=False)
    kwargs.setdefault("name", "fake")
    return HttpTransport(check_url(url), delivered, http=http, **kwargs)


def out(message: Any) -> Outgoing:
    return Outgoing(encode(message))
