"""Drive the sans-IO pipeline like a transcript: a message in, the messages out, per side.

pb = Playbook(store)
out = pb.client(call(1, "read_file"))
assert out.to_client == [...]       # what the shim answered itself
assert out.to_server == [...]       # what it forwarded
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mcpguard.pinning.store import Store
from mcpguard.proxy import jsonrpc
from mcpguard.proxy.pipeline import Pipeline
from mcpguard.proxy.session import Session, Settings
from mcpguard.proxy.steps import default_steps

if TYPE_CHECKING:
    from mcpguard.proxy.pipeline import Out


@dataclass
class Outs:
    """What one input produced, parsed, with the raw bytes kept for byte-faithfulness checks."""

    raw: list[Out]
    to_client: list[Any] = field(default_factory=list)
    to_server: list[Any] = field(default_factory=list)

    @classmethod
    def of(cls, raw: list[Out]) -> Outs:
        outs = cls(raw)
        for side, data in raw:
            (outs.to_client if side == "client" else outs.to_server).append(json.loads(data))
        return outs


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Playbook:
    """One connection's pipeline with the default steps, over a real store."""

    def __init__(
        self,
        store: Store,
        *,
        name: str = "srv",
        client: str = "test",
        command: list[str] | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.clock = Clock()
        self.session = Session(
            store,
            client=client,
            name=name,
            command=command or ["server", "--flag"],
            settings=settings or Settings(),
            clock=self.clock,
        )
        self.pipeline = Pipeline(self.session, default_steps())
        self.started = Outs.of(self.pipeline.start())

    def client(self, message: Any) -> Outs:
        return Outs.of(self.pipeline.from_client(jsonrpc.encode(message)))

    def client_raw(self, line: bytes) -> Outs:
        return Outs.of(self.pipeline.from_client(line))

    def server(self, message: Any) -> Outs:
        return Outs.of(self.pipeline.from_server(jsonrpc.encode(message)))

    def server_raw(self, line: bytes) -> Outs:
        return Outs.of(self.pipeline.from_server(line))

    def poll(self) -> Outs:
        return Outs.of(self.pipeline.decisions_poll())

    def tick(self, advance: float = 0.0) -> Outs:
        self.clock.now += advance
        return Outs.of(self.pipeline.tick())

    def handshake(self, *, instructions: str | None = None) -> Outs:
        """initialize -> result -> initialized; returns what the client got for initialize."""
        from tests.factories import initialize, initialize_result, notification

        self.client(initialize(0))
        got = self.server(initialize_result(0, instructions=instructions))
        self.client(notification("notifications/initialized"))
        return got

    def list_tools(self, tools: list[dict[str, Any]], msg_id: Any = "list") -> list[dict[str, Any]]:
        """The client lists tools, the server answers ``tools``; returns what the client was shown."""
        from tests.factories import request, result

        self.client(request(msg_id, "tools/list"))
        out = self.server(result(msg_id, {"tools": tools}))
        assert len(out.to_client) == 1, out.to_client
        shown: list[dict[str, Any]] = out.to_client[0]["result"]["tools"]
        return shown

    def approve_all(self) -> None:
        for view in self.session.store.items(self.session.server.id):
            if view.live is not None:
                self.session.store.decide(view.server_id, view.kind, view.name, "approve", actor="test")
        self.poll()
