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
import subprocess
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import mcp_types as types
import pytest
from mcp.client.session import ClientSession, IncomingMessage
from mcp.client.stdio import StdioServerParameters, stdio_client

from mcpguard.paths import AppPaths
from mcpguard.pinning.store import ItemView, Store
from mcpguard.remote.bridge import AUTHORIZATION_SERVER
from tests.integration.helpers import (
    GRACE_SECONDS,
    INITIALIZE,
    PYTHON,
    Shim,
    run_cli,
    server_path,
)

pytestmark = pytest.mark.integration

ROOT = str(Path(__file__).resolve().parents[2])
TEST_TIMEOUT = 60.0


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


def command_pin(name: str) -> tuple[ItemView, int]:
    """The pinned "command line" of a remote server, and how many versions it has had."""
    store = Store.open(AppPaths.from_env())
    try:
        (server,) = store.find_servers(name, "test")
        view = store.item(server.id, "command", "")
        return view, len(store.versions(view.id))
    finally:
        store.close()


def signins() -> list[str]:
    store = Store.open(AppPaths.from_env())
    try:
        return [r.url for r in store.signins()]
    finally:
        store.close()


def issuer_of(url: str) -> str:
    """The SDK's authorization server publishes its issuer with a trailing slash (pydantic's AnyHttpUrl)."""
    answer = httpx.get(url.replace("/mcp", "/.well-known/oauth-authorization-server"), trust_env=False)
    issuer: str = answer.json()["issuer"]
    return issuer


def stats(url: str) -> dict[str, int]:
    answer = httpx.get(url.replace("/mcp", "/test/stats"), trust_env=False)
    data: dict[str, int] = answer.json()
    return data


async def test_signs_in_keeps_the_token_in_the_keyring_and_logs_out(
    oauth_server: str, signin_environ: dict[str, str], tmp_path: Path
) -> None:
    stderr = tmp_path / "bridge.stderr"
    with anyio.fail_after(TEST_TIMEOUT):
        async with connect("secured", oauth_server, signin_environ, stderr) as session:
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
    assert "sign in to secured at 127.0.0.1 in your browser" in stderr.read_text(), "no tray: the bridge opens it"
    assert signins() == [], "no tray: nothing is offered there"
    command, versions = command_pin("secured")
    assert command.live is not None and command.status.value == "approved"
    argv = command.live.definition["argv"]
    assert argv[-2:] == [AUTHORIZATION_SERVER, issuer_of(oauth_server)], "the authorization server is pinned"
    assert versions == 2, "first without it, then with it once discovery named it"
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
        async with connect("secured", oauth_server, signin_environ, stderr) as session:
            result = await session.call_tool("echo", {"text": "again"})
            assert not result.is_error
    assert stats(oauth_server)["authorizations"] == 1, "the stored token was used: no second sign-in"
    command, versions = command_pin("secured")
    assert versions == 2 and command.status.value == "approved", "pinned from the stored token's issuer at start"

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

    with anyio.fail_after(TEST_TIMEOUT):
        async with connect("secured", oauth_server, signin_environ, stderr) as session:
            result = await session.call_tool("echo", {"text": "signed in again"})
            assert not result.is_error, "the recorded authorization server is the approved one"
    assert stats(oauth_server)["authorizations"] == 2
    command, versions = command_pin("secured")
    assert versions == 2 and command.status.value == "approved", "no token: the recorded server, no flicker"


def test_a_sign_in_offered_in_the_tray_outlives_a_client_that_left(
    oauth_server: str, signin_environ: dict[str, str], tmp_path: Path
) -> None:
    """The client is answered at once; it quits; the user signs in from the tray; the next start has the token."""
    store = Store.open(AppPaths.from_env())
    stop = threading.Event()

    def tray_heartbeat() -> None:
        while True:
            store.beat()
            if stop.wait(1.0):
                return

    beating = threading.Thread(target=tray_heartbeat, daemon=True)
    beating.start()
    argv = [PYTHON, "-m", "mcpguard", "remote", oauth_server, "--name", "later", "--client", "test"]
    first = Shim("later", [], workdir=tmp_path / "bridges", argv=argv)
    second: Shim | None = None
    try:
        began = time.monotonic()
        answer = first.request("initialize", INITIALIZE)
        assert time.monotonic() - began < 10, "answered at once, not after the sign-in time-out"
        assert answer["error"]["message"] == (
            "mcpguard needs you to sign in to later at 127.0.0.1: use the mcpguard tray notification "
            "'Sign in to later', then retry."
        ), answer
        [url] = signins()
        assert not Path(signin_environ["FAKE_BROWSER_LOG"]).exists(), "the bridge opened no browser itself"

        first.close_stdin()  # the client gives up on this server for now
        clicked = subprocess.run([PYTHON, server_path("fake_browser.py"), url], timeout=30, capture_output=True)
        assert clicked.returncode == 0, clicked.stderr
        assert first.proc.wait(timeout=30) == 0
        assert signins() == []
        assert "waiting up to" in first.stderr_text()
        stored = json.loads(Path(signin_environ["FILE_KEYRING_PATH"]).read_text())
        assert any(k.endswith("remote/later/OAUTH_TOKENS") for k in stored)

        second = Shim("later", [], workdir=tmp_path / "bridges", argv=argv)
        assert "result" in second.request("initialize", INITIALIZE), "the next start has the token"
        assert stats(oauth_server)["authorizations"] == 1
        assert signins() == []
    finally:
        stop.set()
        beating.join(5)
        for bridge in (first, second):
            if bridge is not None:
                bridge.close()
        store.close()
