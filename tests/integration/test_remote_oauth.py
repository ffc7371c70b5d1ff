"""``mcpguard remote`` signing in to a real OAuth-protected SDK server on 127.0.0.1.

The server (``tests/servers/sdk_oauth.py``) is an SDK ``MCPServer`` with the SDK's authorization
server (metadata, dynamic registration, authorize, token, revoke); the browser is
``tests/servers/fake_browser.py`` set as ``BROWSER``; the keyring is a file backend
(``tests/servers/file_keyring.py``) so tokens survive a restart of the bridge. The client is the
SDK's ``ClientSession`` launching the bridge over stdio, as an AI client's config would.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import mcp_types as types
import pytest
from mcp.client.session import ClientSession, IncomingMessage
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.integration.helpers import GRACE_SECONDS, PYTHON, run_cli, server_path

pytestmark = pytest.mark.integration

ROOT = str(Path(__file__).resolve().parents[2])
TEST_TIMEOUT = 60.0


@pytest.fixture
def oauth_server() -> Iterator[str]:
    """The protected server's MCP URL."""
    proc = subprocess.Popen(
        [PYTHON, server_path("sdk_oauth.py")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    try:
        assert selector.select(timeout=30), "the OAuth test server did not start within 30 s"
        line = proc.stdout.readline().decode()
        assert line.startswith("READY "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}/mcp"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        proc.stdout.close()


@pytest.fixture
def keyring_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    browser = tmp_path / "browser"  # webbrowser runs BROWSER as one program: no arguments in it
    browser.write_text(f'#!/bin/sh\nexec "{PYTHON}" "{server_path("fake_browser.py")}" "$@"\n')
    browser.chmod(0o755)
    env = {
        "MCPGUARD_SIGNIN_TIMEOUT": "20",
        "PYTHON_KEYRING_BACKEND": "tests.servers.file_keyring.Keyring",
        "FILE_KEYRING_PATH": str(tmp_path / "keyring.json"),
        "PYTHONPATH": ROOT,
        "BROWSER": str(browser),
        "FAKE_BROWSER_LOG": str(tmp_path / "browser.log"),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


@asynccontextmanager
async def connect(name: str, url: str, env: dict[str, str], stderr: Path) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=PYTHON,
        args=["-m", "mcpguard", "remote", url, "--name", name, "--client", "test"],
        env={"MCPGUARD_HOME": os.environ["MCPGUARD_HOME"], "MCPGUARD_GRACE_SECONDS": GRACE_SECONDS, **env},
        cwd=ROOT,
    )
    arrived = anyio.Event()

    async def on_message(message: IncomingMessage) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            arrived.set()

    with open(stderr, "a") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write, message_handler=on_message) as session:
                await session.initialize()
                session.tool_list_changed = arrived  # type: ignore[attr-defined]
                yield session


def stats(url: str) -> dict[str, int]:
    answer = httpx.get(url.replace("/mcp", "/test/stats"), trust_env=False)
    data: dict[str, int] = answer.json()
    return data


async def test_signs_in_keeps_the_token_in_the_keyring_and_logs_out(
    oauth_server: str, keyring_env: dict[str, str], tmp_path: Path
) -> None:
    stderr = tmp_path / "bridge.stderr"
    with anyio.fail_after(TEST_TIMEOUT):
        async with connect("secured", oauth_server, keyring_env, stderr) as session:
            assert (await session.list_tools()).tools == []  # signed in, but nothing approved yet
            await anyio.to_thread.run_sync(lambda: run_cli("pins", "approve", "secured", "--all"))
            with anyio.fail_after(10):
                await session.tool_list_changed.wait()  # type: ignore[attr-defined]
            assert [t.name for t in (await session.list_tools()).tools] == ["echo"]
            result = await session.call_tool("echo", {"text": "signed in"})
            assert not result.is_error and isinstance(result.content[0], types.TextContent)
            assert result.content[0].text == "signed in"

    first = stats(oauth_server)
    assert first["registrations"] == 1 and first["authorizations"] == 1 and first["authorization_code"] == 1
    urls = (tmp_path / "browser.log").read_text().splitlines()
    query = {k: v[0] for k, v in parse_qs(urlsplit(urls[0]).query).items()}
    assert query["resource"] == oauth_server and query["code_challenge_method"] == "S256"
    assert query["scope"] == "mcp" and query["redirect_uri"].startswith("http://127.0.0.1:")

    stored = json.loads((tmp_path / "keyring.json").read_text())
    assert any(k.endswith("remote/secured/OAUTH_TOKENS") for k in stored)
    token = json.loads(next(v for k, v in stored.items() if k.endswith("OAUTH_TOKENS")))["access_token"]
    assert token not in stderr.read_text(), "no token in the bridge's output"
    for path in Path(os.environ["MCPGUARD_HOME"]).rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), f"the token leaked into {path}"

    with anyio.fail_after(TEST_TIMEOUT):
        async with connect("secured", oauth_server, keyring_env, stderr) as session:
            result = await session.call_tool("echo", {"text": "again"})
            assert not result.is_error
    assert stats(oauth_server)["authorizations"] == 1, "the stored token was used: no second sign-in"

    out = await anyio.to_thread.run_sync(lambda: run_cli("remote", "logout", "secured"))
    # The SDK's revocation endpoint wants the secret in the form *and* Basic for a client_secret_basic
    # client, two methods at once, which RFC 6749 forbids; mcpguard tries each alone, so here it is told
    # the revocation was not confirmed. The tokens are gone from the keyring either way.
    assert "signed out of 'secured'" in out.stdout
    stored = json.loads((tmp_path / "keyring.json").read_text())
    assert not any(k.endswith("OAUTH_TOKENS") for k in stored)
    assert (
        "no stored sign-in" in (await anyio.to_thread.run_sync(lambda: run_cli("remote", "logout", "secured"))).stdout
    )
