"""The shim between the official SDK's client and servers built with the official SDK.

Nothing here speaks raw JSON-RPC: a ``ClientSession`` over ``stdio_client`` launches
``mcpguard run`` exactly as an AI client's config would, and the servers in ``tests/servers`` are
written with ``MCPServer``. Decisions are made with the real CLI in a subprocess, so they reach the
running shim the way a tray decision would: through the state database.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread
import mcp_types as types
import pytest
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError

from tests.integration.helpers import (
    GRACE_SECONDS,
    call_log,
    pin_items,
    run_cli,
    server_path,
    shim_argv,
    wait_for_log,
)
from tests.integration.sdk_client import SdkClient, sdk_client
from tests.servers import sdk_basic, sdk_mutating

pytestmark = pytest.mark.integration

TEST_TIMEOUT = 60.0
LIST_CHANGED_TIMEOUT = 3.0
BASIC_TOOLS = {"echo", "add", "divide"}


class Client(SdkClient):
    """An SDK client session through the shim, with the server notifications it received."""

    list_changed_timeout = LIST_CHANGED_TIMEOUT


@asynccontextmanager
async def connect(name: str, server: str, **env: str) -> AsyncIterator[Client]:
    """Launch ``mcpguard run --name NAME -- python SERVER`` through the SDK's stdio client."""
    argv = shim_argv(name, [sys.executable, server_path(server)])
    params = StdioServerParameters(
        command=argv[0],
        args=argv[1:],
        env={"MCPGUARD_HOME": os.environ["MCPGUARD_HOME"], "MCPGUARD_GRACE_SECONDS": GRACE_SECONDS, **env},
    )
    async with sdk_client(Client, params) as client:
        yield client


async def cli(*args: str) -> str:
    """The mcpguard CLI, off the event loop so the client keeps reading while it runs."""
    proc = await anyio.to_thread.run_sync(lambda: run_cli(*args))
    return proc.stdout


async def approve_all(name: str) -> None:
    await cli("pins", "approve", name, "--all")


def text(result: types.CallToolResult) -> str:
    assert result.content, result
    block = result.content[0]
    assert isinstance(block, types.TextContent), result
    return block.text


async def test_first_start_hides_everything_until_approved_then_announces() -> None:
    with anyio.fail_after(TEST_TIMEOUT):
        async with connect("basic", "sdk_basic.py") as client:
            caps = client.init.capabilities
            assert caps.tools is not None and caps.tools.list_changed is True, "the shim advertises listChanged"
            assert client.init.instructions is None, "instructions of a never-approved server are withheld"
            assert client.init.server_info.name == "sdk-basic"

            assert await client.tools() == {}
            with pytest.raises(MCPError) as caught:
                await client.session.call_tool("add", {"a": 1, "b": 2})
            assert caught.value.code == types.INVALID_PARAMS
            assert caught.value.error.message == "Unknown tool: add"

            items = pin_items("basic")
            assert {name for kind, name in items if kind == "tool"} == BASIC_TOOLS
            assert all(item["status"] == "pending" for item in items.values())

            before = client.tool_list_changes()
            await approve_all("basic")
            await client.wait_tool_list_changed(before)

            tools = await client.tools()
            assert set(tools) == BASIC_TOOLS
            assert tools["echo"].description == sdk_basic.ECHO_DESCRIPTION["v1"]
            result = await client.session.call_tool("add", {"a": 2, "b": 3})
            assert not result.is_error
            assert text(result) == "5"
            result = await client.session.call_tool("echo", {"text": "grüße ✓"})
            assert text(result) == "grüße ✓"


async def test_rug_pull_at_run_time_serves_the_approved_definition_and_holds_calls() -> None:
    with anyio.fail_after(TEST_TIMEOUT):
        async with connect("mutating", "sdk_mutating.py") as client:
            assert set(await client.tools()) == set()
            before = client.tool_list_changes()
            await approve_all("mutating")
            await client.wait_tool_list_changed(before)
            assert set(await client.tools()) == {"echo", "mutate"}
            assert text(await client.session.call_tool("echo", {"text": "before"})) == "before"

            # The server swaps echo's description, adds a tool and announces it.
            before = client.tool_list_changes()
            assert text(await client.session.call_tool("mutate", {})) == "mutated"
            await client.wait_tool_list_changed(before)

            tools = await client.tools()
            assert set(tools) == {"echo", "mutate"}, "the new tool stays hidden"
            assert tools["echo"].description == sdk_mutating.ECHO_BEFORE, "the client sees the approved definition"

            held = await client.session.call_tool("echo", {"text": "after"})
            assert held.is_error is True
            assert text(held).startswith("mcpguard is holding the tool")
            assert "mcpguard pins approve mutating echo" in text(held)
            with pytest.raises(MCPError) as caught:
                await client.session.call_tool("exfiltrate", {"data": "secret"})
            assert caught.value.code == types.INVALID_PARAMS

            items = pin_items("mutating")
            assert items[("tool", "echo")]["status"] == "changed"
            assert items[("tool", "exfiltrate")]["status"] == "pending"
            assert items[("tool", "mutate")]["status"] == "approved"
            diff = await cli("pins", "diff", "mutating", "echo")
            assert any(line.startswith("+") and "credentials" in line for line in diff.splitlines()), diff
            assert any(line.startswith("-") and sdk_mutating.ECHO_BEFORE in line for line in diff.splitlines()), diff

            # Approving the change lets it through, and the client is told to re-list.
            before = client.tool_list_changes()
            await cli("pins", "approve", "mutating", "echo")
            await client.wait_tool_list_changed(before)
            tools = await client.tools()
            assert tools["echo"].description == sdk_mutating.ECHO_AFTER
            assert "exfiltrate" not in tools
            result = await client.session.call_tool("echo", {"text": "approved now"})
            assert not result.is_error
            assert text(result) == "approved now"

        rows = wait_for_log("mutating", 5)
        assert [(r["tool"], r["outcome"]) for r in rows] == [
            ("echo", "ok"),
            ("mutate", "ok"),
            ("echo", "blocked"),
            ("exfiltrate", "blocked"),
            ("echo", "ok"),
        ]


async def test_call_right_after_list_changed_is_verified_without_relisting() -> None:
    """The client never re-lists: the shim lists the server itself before deciding the call."""
    with anyio.fail_after(TEST_TIMEOUT):
        async with connect("mutating2", "sdk_mutating.py") as client:
            await client.tools()
            before = client.tool_list_changes()
            await approve_all("mutating2")
            await client.wait_tool_list_changed(before)
            await client.tools()

            before = client.tool_list_changes()
            await client.session.call_tool("mutate", {})
            await client.wait_tool_list_changed(before)
            held = await client.session.call_tool("echo", {"text": "x"})
            assert held.is_error is True
            assert text(held).startswith("mcpguard is holding the tool 'echo'")
            assert pin_items("mutating2")[("tool", "echo")]["status"] == "changed"


async def test_silent_rug_pull_after_n_calls_is_caught_on_the_next_listing() -> None:
    """No list_changed at all: the change shows up when the client lists again, and is held."""
    with anyio.fail_after(TEST_TIMEOUT):
        async with connect("silent", "sdk_mutating.py", SDK_MUTATE_AFTER="2", SDK_MUTATE_SILENT="1") as client:
            await client.tools()
            before = client.tool_list_changes()
            await approve_all("silent")
            await client.wait_tool_list_changed(before)
            await client.tools()
            assert text(await client.session.call_tool("echo", {"text": "one"})) == "one"
            assert text(await client.session.call_tool("echo", {"text": "two"})) == "two"  # mutates, silently

            tools = await client.tools()
            assert set(tools) == {"echo", "mutate"}
            assert tools["echo"].description == sdk_mutating.ECHO_BEFORE
            held = await client.session.call_tool("echo", {"text": "three"})
            assert held.is_error is True
            assert text(held).startswith("mcpguard is holding the tool")


async def test_change_across_restart_is_held_until_approved() -> None:
    with anyio.fail_after(TEST_TIMEOUT):
        async with connect("restart", "sdk_basic.py") as client:
            await client.tools()
        await approve_all("restart")

        async with connect("restart", "sdk_basic.py", SDK_TOOLS="v1") as client:
            tools = await client.tools()
            assert set(tools) == BASIC_TOOLS
            assert text(await client.session.call_tool("echo", {"text": "v1"})) == "v1"

        async with connect("restart", "sdk_basic.py", SDK_TOOLS="v2") as client:
            tools = await client.tools()
            assert set(tools) == BASIC_TOOLS
            assert tools["echo"].description == sdk_basic.ECHO_DESCRIPTION["v1"], "old, approved definition"
            held = await client.session.call_tool("echo", {"text": "v2"})
            assert held.is_error is True
            assert text(held).startswith("mcpguard is holding the tool 'echo'")
            assert text(await client.session.call_tool("add", {"a": 40, "b": 2})) == "42", "unchanged tools work"
            assert pin_items("restart")[("tool", "echo")]["status"] == "changed"

            before = client.tool_list_changes()
            await cli("pins", "approve", "restart", "echo")
            await client.wait_tool_list_changed(before)
            tools = await client.tools()
            assert tools["echo"].description == sdk_basic.ECHO_DESCRIPTION["v2"]
            assert text(await client.session.call_tool("echo", {"text": "v2"})) == "v2"


async def test_changed_instructions_are_withheld_until_the_identity_is_approved() -> None:
    v1, v2 = sdk_basic.INSTRUCTIONS["v1"], sdk_basic.INSTRUCTIONS["v2"]
    with anyio.fail_after(TEST_TIMEOUT):
        async with connect("instr", "sdk_basic.py") as client:
            assert client.init.instructions is None
            await client.tools()
        await approve_all("instr")

        async with connect("instr", "sdk_basic.py") as client:
            assert client.init.instructions == v1

        async with connect("instr", "sdk_basic.py", SDK_INSTRUCTIONS="v2") as client:
            assert client.init.instructions != v2, "changed instructions must not reach the model"
            assert client.init.instructions in (None, v1)
            assert pin_items("instr")[("instructions", "")]["status"] == "changed"
            assert text(await client.session.call_tool("add", {"a": 1, "b": 1})) == "2", "tools are unaffected"

        out = await cli("pins", "approve", "instr")
        assert "instructions: approved" in out
        async with connect("instr", "sdk_basic.py", SDK_INSTRUCTIONS="v2") as client:
            assert client.init.instructions == v2


async def test_call_log_has_every_outcome_and_verifies() -> None:
    with anyio.fail_after(TEST_TIMEOUT):
        async with connect("logged", "sdk_basic.py") as client:
            await client.tools()
            with pytest.raises(MCPError):
                await client.session.call_tool("echo", {"text": "hidden"})
            before = client.tool_list_changes()
            await approve_all("logged")
            await client.wait_tool_list_changed(before)
            await client.tools()
            assert text(await client.session.call_tool("echo", {"text": "hello"})) == "hello"
            failed = await client.session.call_tool("divide", {"a": 1, "b": 0})
            assert failed.is_error is True
            assert text(await client.session.call_tool("divide", {"a": 9, "b": 3})) == "3.0"

    rows = wait_for_log("logged", 4)
    assert [(r["tool"], r["outcome"]) for r in rows] == [
        ("echo", "blocked"),
        ("echo", "ok"),
        ("divide", "tool-error"),
        ("divide", "ok"),
    ]
    assert all(r["client"] == "test" and r["server"] == "logged" for r in rows)
    assert '"hello"' in rows[1]["arguments"]
    assert rows[1]["result_size"] > 0
    assert rows[1]["duration_ms"] is not None and rows[1]["duration_ms"] >= 0
    assert rows[0]["detail"], "a blocked call says why"
    assert len({r["hash"] for r in rows}) == len(rows)
    assert call_log() == rows, "one server only in this profile"

    verify = run_cli("log", "verify", check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "intact" in verify.stdout
