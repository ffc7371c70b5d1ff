"""``mcpguard remote`` between the official SDK's client and real SDK servers over HTTP on 127.0.0.1.

The client is the SDK's ``ClientSession`` over ``stdio_client``, launching ``mcpguard remote URL``
exactly as an AI client's config would; the server is ``tests/servers/sdk_http.py`` (an
``MCPServer`` behind uvicorn) in a subprocess on a free loopback port. Decisions go through the real
CLI, so they reach the running bridge the way a tray decision would: through the state database.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import anyio
import anyio.to_thread
import mcp_types as types
import pytest
from mcp.client.session import ClientRequestContext
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError

from tests.integration.helpers import (
    GRACE_SECONDS,
    PYTHON,
    pin_items,
    run_cli,
    server_path,
    subprocess_env,
    wait_for_log,
)
from tests.integration.sdk_client import SdkClient, sdk_client
from tests.servers import sdk_basic, sdk_mutating

pytestmark = pytest.mark.integration

TEST_TIMEOUT = 60.0
LIST_CHANGED_TIMEOUT = 5.0
BASIC_TOOLS = {"echo", "add", "divide", "ask_roots", "chatty"}
ROOT = "file:///home/user/project"


class HttpServer:
    """``tests/servers/sdk_http.py`` in a subprocess; :meth:`restart` brings it back on the same port."""

    def __init__(self, workdir: Path, args: list[str], env: dict[str, str] | None = None) -> None:
        self.args = args
        self.workdir = workdir
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self.start(env)

    def start(self, env: dict[str, str] | None = None) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._stderr = open(self.workdir / f"server-{time.monotonic_ns()}.stderr", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [PYTHON, server_path("sdk_http.py"), "--port", str(self.port), *self.args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=subprocess_env(env),
        )
        assert self.proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=30):
            self.stop()
            raise AssertionError("the SDK HTTP server did not start within 30 s")
        line = self.proc.stdout.readline().decode()
        assert line.startswith("READY "), f"unexpected first line from the server: {line!r}"
        self.port = int(line.split()[1])

    def url(self, path: str = "/mcp") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()

    def restart(self, env: dict[str, str] | None = None) -> None:
        self.stop()
        self.start(env)


@pytest.fixture
def http_servers(tmp_path: Path) -> Iterator[list[HttpServer]]:
    started: list[HttpServer] = []
    yield started
    for server in started:
        server.stop()


def serve(servers: list[HttpServer], tmp_path: Path, *args: str, **env: str) -> HttpServer:
    server = HttpServer(tmp_path / "servers", list(args), env or None)
    servers.append(server)
    return server


@dataclass
class Client(SdkClient):
    """An SDK client session through ``mcpguard remote``, with what the server sent it."""

    list_changed_timeout = LIST_CHANGED_TIMEOUT
    logs: list[types.LoggingMessageNotificationParams] = field(default_factory=list)
    roots_asked: int = 0

    async def on_roots(self, context: ClientRequestContext) -> types.ListRootsResult:
        self.roots_asked += 1
        return types.ListRootsResult(roots=[types.Root.model_validate({"uri": ROOT, "name": "project"})])

    async def on_log(self, params: types.LoggingMessageNotificationParams) -> None:
        self.logs.append(params)


@asynccontextmanager
async def connect(name: str, url: str, stderr: Path | None = None, *extra: str) -> AsyncIterator[Client]:
    """Launch ``mcpguard remote URL --name NAME --client test`` through the SDK's stdio client."""
    params = StdioServerParameters(
        command=PYTHON,
        args=["-m", "mcpguard", "remote", url, "--name", name, "--client", "test", *extra],
        env={"MCPGUARD_HOME": os.environ["MCPGUARD_HOME"], "MCPGUARD_GRACE_SECONDS": GRACE_SECONDS},
    )
    errlog = open(stderr, "w") if stderr is not None else open(os.devnull, "w")  # noqa: SIM115
    try:
        async with sdk_client(Client, params, errlog, on_roots=Client.on_roots, on_log=Client.on_log) as client:
            yield client
    finally:
        errlog.close()


async def cli(*args: str) -> str:
    proc = await anyio.to_thread.run_sync(lambda: run_cli(*args))
    return proc.stdout


def text(result: types.CallToolResult) -> str:
    assert result.content, result
    block = result.content[0]
    assert isinstance(block, types.TextContent), result
    return block.text


async def approved(client: Client, name: str) -> dict[str, types.Tool]:
    """List (so the server's tools are pinned), approve everything, wait for the news, list again."""
    await client.tools()
    before = client.tool_list_changes()
    await cli("pins", "approve", name, "--all")
    await client.wait_tool_list_changed(before)
    return await client.tools()


# -- pinning, calls, the log ---------------------------------------------------------------------------


async def test_first_start_hides_tools_until_approved_and_calls_then_work(
    http_servers: list[HttpServer], tmp_path: Path
) -> None:
    server = serve(http_servers, tmp_path)
    with anyio.fail_after(TEST_TIMEOUT):
        async with connect("web", server.url()) as client:
            assert client.init.server_info.name == "sdk-basic"
            caps = client.init.capabilities
            assert caps.tools is not None and caps.tools.list_changed is True
            assert client.init.instructions is None, "a never-approved server's instructions are withheld"
            assert await client.tools() == {}
            with pytest.raises(MCPError) as caught:
                await client.session.call_tool("add", {"a": 1, "b": 2})
            assert caught.value.error.message == "Unknown tool: add"

            items = pin_items("web")
            assert items[("command", "")]["status"] == "pending"
            assert {name for kind, name in items if kind == "tool"} == BASIC_TOOLS

            tools = await approved(client, "web")
            assert set(tools) == BASIC_TOOLS
            result = await client.session.call_tool("add", {"a": 2, "b": 3})
            assert not result.is_error and text(result) == "5"
            assert text(await client.session.call_tool("echo", {"text": "grüße ✓"})) == "grüße ✓"

    show = await cli("pins", "show", "web")
    assert f"http://127.0.0.1:{server.port}/mcp" in show, "the URL is the pinned identity"
    rows = wait_for_log("web", 3)
    assert [(r["tool"], r["outcome"]) for r in rows] == [("add", "blocked"), ("add", "ok"), ("echo", "ok")]
    assert all(r["client"] == "test" for r in rows)


async def test_rug_pull_over_http_is_held(http_servers: list[HttpServer], tmp_path: Path) -> None:
    """The server changes a tool while it runs and says so on its GET stream."""
    server = serve(http_servers, tmp_path, "--server", "mutating")
    with anyio.fail_after(TEST_TIMEOUT):
        async with connect("mutating", server.url()) as client:
            tools = await approved(client, "mutating")
            assert {"echo", "mutate"} <= set(tools)
            assert text(await client.session.call_tool("echo", {"text": "before"})) == "before"

            before = client.tool_list_changes()
            assert text(await client.session.call_tool("mutate", {})) == "mutated"
            await client.wait_tool_list_changed(before)

            tools = await client.tools()
            assert "exfiltrate" not in tools, "the new tool stays hidden"
            assert tools["echo"].description == sdk_mutating.ECHO_BEFORE, "the approved definition is served"
            held = await client.session.call_tool("echo", {"text": "after"})
            assert held.is_error is True
            assert text(held).startswith("mcpguard is holding the tool 'echo'")
            assert pin_items("mutating")[("tool", "echo")]["status"] == "changed"

            before = client.tool_list_changes()
            await cli("pins", "approve", "mutating", "echo")
            await client.wait_tool_list_changed(before)
            assert text(await client.session.call_tool("echo", {"text": "approved now"})) == "approved now"


async def test_json_answers_and_a_change_across_a_server_restart(
    http_servers: list[HttpServer], tmp_path: Path
) -> None:
    """The server answers with plain JSON bodies; a restart with a changed tool holds it."""
    server = serve(http_servers, tmp_path, "--json-response")
    with anyio.fail_after(TEST_TIMEOUT):
        async with connect("json", server.url()) as client:
            await approved(client, "json")
            assert text(await client.session.call_tool("add", {"a": 40, "b": 2})) == "42"

        server.restart({"SDK_TOOLS": "v2"})
        async with connect("json", server.url()) as client:
            tools = await client.tools()
            assert tools["echo"].description == sdk_basic.ECHO_DESCRIPTION["v1"], "old, approved definition"
            held = await client.session.call_tool("echo", {"text": "v2"})
            assert held.is_error is True and text(held).startswith("mcpguard is holding the tool 'echo'")
            assert text(await client.session.call_tool("add", {"a": 1, "b": 1})) == "2", "unchanged tools work"


# -- both directions -------------------------------------------------------------------------------


async def test_server_requests_and_notifications_pass_both_ways(http_servers: list[HttpServer], tmp_path: Path) -> None:
    server = serve(http_servers, tmp_path)
    with anyio.fail_after(TEST_TIMEOUT):
        async with connect("both", server.url()) as client:
            await approved(client, "both")
            # roots/list: the server asks on its GET stream, the client answers with a POST.
            assert text(await client.session.call_tool("ask_roots", {})) == ROOT
            assert client.roots_asked == 1
            # A log notification on the call's SSE answer stream, ahead of the result.
            assert text(await client.session.call_tool("chatty", {"text": "hello"})) == "hello"
            assert [entry.data for entry in client.logs] == ["about to echo hello"]


async def test_old_http_sse_servers_are_reached_through_the_fallback(
    http_servers: list[HttpServer], tmp_path: Path
) -> None:
    server = serve(http_servers, tmp_path, "--legacy-sse")
    with anyio.fail_after(TEST_TIMEOUT):
        async with connect("legacy", server.url("/sse")) as client:
            tools = await approved(client, "legacy")
            assert set(tools) == BASIC_TOOLS
            assert text(await client.session.call_tool("add", {"a": 20, "b": 22})) == "42"
            assert text(await client.session.call_tool("ask_roots", {})) == ROOT


async def test_stateless_servers_work_without_a_session(http_servers: list[HttpServer], tmp_path: Path) -> None:
    server = serve(http_servers, tmp_path, "--stateless", "--json-response")
    with anyio.fail_after(TEST_TIMEOUT):
        async with connect("stateless", server.url()) as client:
            await approved(client, "stateless")
            assert text(await client.session.call_tool("add", {"a": 1, "b": 2})) == "3"


# -- failures ----------------------------------------------------------------------------------------


async def test_a_restarted_server_gets_a_new_session_and_the_guard_checks_again(
    http_servers: list[HttpServer], tmp_path: Path
) -> None:
    server = serve(http_servers, tmp_path)
    stderr = tmp_path / "bridge.stderr"
    with anyio.fail_after(TEST_TIMEOUT):
        async with connect("restart", server.url(), stderr) as client:
            await approved(client, "restart")
            assert text(await client.session.call_tool("add", {"a": 1, "b": 1})) == "2"

            await anyio.to_thread.run_sync(lambda: server.restart({"SDK_TOOLS": "v2"}))
            before = client.tool_list_changes()
            # The old session is gone (404): the bridge starts a new one and, as the server may
            # now offer other tools, lists them before it lets a call through.
            held = await client.session.call_tool("echo", {"text": "after restart"})
            assert held.is_error is True and text(held).startswith("mcpguard is holding the tool 'echo'")
            assert text(await client.session.call_tool("add", {"a": 2, "b": 2})) == "4"
            await client.wait_tool_list_changed(before)
    assert "ended the session; starting a new one" in stderr.read_text()


def _raw_bridge(url: str, name: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [PYTHON, "-m", "mcpguard", "remote", url, "--name", name, "--client", "test"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=subprocess_env(),
    )


def _initialize_line() -> bytes:
    return (
        b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
        b'"capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}\n'
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_unreachable_server_gets_an_error_answer_and_a_non_zero_exit() -> None:
    proc = _raw_bridge(f"http://127.0.0.1:{_free_port()}/mcp", "down")
    try:
        out, err = proc.communicate(_initialize_line(), timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    (answer,) = [json.loads(line) for line in out.splitlines()]
    assert answer["id"] == 1 and answer["error"]["code"] == -32000
    assert "Connection refused" in answer["error"]["message"]
    assert proc.returncode == 1
    assert b"cannot reach the remote server 'down'" in err


def test_plain_http_to_another_host_is_refused_before_anything_is_sent() -> None:
    proc = _raw_bridge("http://mcp.example.com/mcp", "insecure")
    out, err = proc.communicate(_initialize_line(), timeout=30)
    assert proc.returncode == 2
    assert out == b""
    assert b"plain http is allowed only to this machine" in err


def test_a_bad_header_option_is_refused_without_showing_its_value() -> None:
    proc = subprocess.run(
        [
            PYTHON,
            "-m",
            "mcpguard",
            "remote",
            "https://mcp.example.com/mcp",
            "--name",
            "x",
            "--header",
            "Bad Name=s3cr3t",
        ],
        capture_output=True,
        timeout=30,
        env=subprocess_env(),
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2
    assert b"--header needs NAME=VALUE" in proc.stderr and b"s3cr3t" not in proc.stderr


def test_sigterm_ends_the_session_and_exits_with_128_plus_the_signal(
    http_servers: list[HttpServer], tmp_path: Path
) -> None:
    server = serve(http_servers, tmp_path)
    proc = _raw_bridge(server.url(), "term")
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(_initialize_line())
    proc.stdin.flush()
    answer = json.loads(proc.stdout.readline())
    assert answer["result"]["serverInfo"]["name"] == "sdk-basic"
    proc.send_signal(signal.SIGTERM)
    try:
        assert proc.wait(timeout=10) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdin.close()
        proc.stdout.close()
        assert proc.stderr is not None
        proc.stderr.close()
