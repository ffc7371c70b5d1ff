"""The reference server ``@modelcontextprotocol/server-everything`` (npm) through the shim.

The SDK's client drives it unchanged. The binary is found through ``MCPGUARD_EVERYTHING_BIN`` or
``mcp-server-everything`` on PATH (install it with
``npm install --prefix DIR @modelcontextprotocol/server-everything`` and point the variable at
``DIR/node_modules/.bin/mcp-server-everything``). Without it the tests skip, unless
``MCPGUARD_REQUIRE_NPM=1`` says the run must have it.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import anyio.to_thread
import mcp_types as types
import pytest
from mcp.client.session import ClientSession, IncomingMessage
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.integration.conftest import SpawnShim
from tests.integration.helpers import (
    GRACE_SECONDS,
    call_log,
    pid_alive,
    pin_items,
    run_cli,
    shim_argv,
    wait_for,
    wait_for_log,
)

pytestmark = [pytest.mark.integration, pytest.mark.npm]

TEST_TIMEOUT = 60.0


def everything_bin() -> str:
    configured = os.environ.get("MCPGUARD_EVERYTHING_BIN")
    found = configured or shutil.which("mcp-server-everything")
    if found and os.access(found, os.X_OK):
        return found
    reason = (
        "@modelcontextprotocol/server-everything is not installed: set MCPGUARD_EVERYTHING_BIN to its "
        "mcp-server-everything binary or put it on PATH "
        "(npm install --prefix DIR @modelcontextprotocol/server-everything)"
    )
    if configured:
        reason = f"MCPGUARD_EVERYTHING_BIN={configured!r} is not an executable file"
    if os.environ.get("MCPGUARD_REQUIRE_NPM") == "1":
        pytest.fail(f"MCPGUARD_REQUIRE_NPM=1 but {reason}")
    pytest.skip(reason)


@dataclass
class Everything:
    session: ClientSession
    init: types.InitializeResult
    notes: list[IncomingMessage] = field(default_factory=list)


@asynccontextmanager
async def connect(binary: str, name: str) -> AsyncIterator[Everything]:
    argv = shim_argv(name, [binary, "stdio"])
    params = StdioServerParameters(
        command=argv[0],
        args=argv[1:],
        env={"MCPGUARD_HOME": os.environ["MCPGUARD_HOME"], "MCPGUARD_GRACE_SECONDS": GRACE_SECONDS},
    )
    notes: list[IncomingMessage] = []

    async def handler(message: IncomingMessage) -> None:
        notes.append(message)

    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write, message_handler=handler) as session:
            init = await session.initialize()
            yield Everything(session, init, notes)


async def wait_list_changed(notes: list[IncomingMessage], seen: int, timeout: float = 3.0) -> None:
    with anyio.fail_after(timeout):
        while sum(isinstance(n, types.ToolListChangedNotification) for n in notes) <= seen:
            await anyio.sleep(0.05)


def changes(notes: list[IncomingMessage]) -> int:
    return sum(isinstance(n, types.ToolListChangedNotification) for n in notes)


@pytest.fixture
def binary() -> str:
    return everything_bin()


async def test_everything_is_hidden_then_approved_and_callable(binary: str) -> None:
    with anyio.fail_after(TEST_TIMEOUT):
        async with connect(binary, "everything") as ev:
            assert ev.init.server_info.name, "serverInfo passes through"
            assert ev.init.capabilities.tools is not None and ev.init.capabilities.tools.list_changed is True
            assert (await ev.session.list_tools()).tools == []
            assert (await ev.session.list_prompts()).prompts == [], "prompts are pinned: pending, hidden"
            # Resources come and go with data: scanned, not pinned, so they pass as the server sent them.
            assert len((await ev.session.list_resources()).resources) >= 1

            seen = changes(ev.notes)
            await anyio.to_thread.run_sync(lambda: run_cli("pins", "approve", "everything", "--all"))
            await wait_list_changed(ev.notes, seen)

            tools = {t.name: t for t in (await ev.session.list_tools()).tools}
            assert len(tools) >= 10, sorted(tools)
            assert "echo" in tools
            result = await ev.session.call_tool("echo", {"message": "hello through mcpguard"})
            assert not result.is_error
            block = result.content[0]
            assert isinstance(block, types.TextContent)
            assert block.text == "Echo: hello through mcpguard"

            # Prompts are pinned like tools: listed before, approved by --all, so they pass now.
            prompts = {p.name for p in (await ev.session.list_prompts()).prompts}
            assert len(prompts) >= 1
            assert "simple-prompt" in prompts
            got = await ev.session.get_prompt("simple-prompt")
            assert got.messages
            assert len((await ev.session.list_resources()).resources) >= 1

    rows = wait_for_log("everything", 1)
    assert [(r["tool"], r["outcome"]) for r in rows] == [("echo", "ok")]
    items = pin_items("everything")
    tools_pinned = [item for (kind, _), item in items.items() if kind == "tool"]
    assert len(tools_pinned) >= 10
    assert all(item["status"] == "approved" for item in tools_pinned)
    assert run_cli("log", "verify").returncode == 0


async def test_everything_second_start_is_approved(binary: str) -> None:
    with anyio.fail_after(TEST_TIMEOUT):
        async with connect(binary, "everything2") as ev:
            await ev.session.list_tools()
            await ev.session.list_prompts()
        await anyio.to_thread.run_sync(lambda: run_cli("pins", "approve", "everything2", "--all"))

        async with connect(binary, "everything2") as ev:
            names = [t.name for t in (await ev.session.list_tools()).tools]
            assert len(names) >= 10 and "echo" in names
            prompts = (await ev.session.list_prompts()).prompts
            assert prompts, "prompts approved on the first start pass on the second"
            result = await ev.session.call_tool("echo", {"message": "again"})
            assert not result.is_error
    assert [r["outcome"] for r in call_log("everything2")] == ["ok"]


def test_everything_ends_with_the_client(binary: str, spawn_shim: SpawnShim) -> None:
    """Client EOF: node is gone within the grace period (or killed after it), and so is the shim."""
    shim = spawn_shim("everything3", [binary, "stdio"])
    shim.initialize()
    assert shim.list_tools()["tools"] == []
    servers = wait_for(shim.server_pids, 5.0, "the server process")
    started = time.monotonic()
    shim.close_stdin()
    shim.wait(timeout=float(GRACE_SECONDS) * 2 + 3)
    assert time.monotonic() - started < float(GRACE_SECONDS) * 2 + 3
    wait_for(lambda: not any(pid_alive(pid) for pid in servers), 2.0, "the server processes to end")
