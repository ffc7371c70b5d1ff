"""``mcpguard remote login NAME`` against a real OAuth-protected SDK server, with real client configs.

A fake machine (HOME under tmp_path, as the client tests use) whose Cursor config starts the server
through ``mcpguard remote`` exactly as ``mcpguard wrap --remote`` writes it (the same function
builds the entry); ``tests/servers/sdk_oauth.py`` on 127.0.0.1; ``tests/servers/fake_browser.py`` as
``BROWSER`` (it logs every launch); a file keyring. Login signs in once, and the client's own entry
then starts a bridge that needs no sign-in.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from mcpguard.clients.entries import remote_wrapped_argv, shim_launcher
from mcpguard.paths import AppPaths
from mcpguard.pinning.store import Store
from mcpguard.remote.bridge import AUTHORIZATION_SERVER
from tests.clients.conftest import Machine
from tests.integration.helpers import Shim, run_cli, text_of

pytestmark = pytest.mark.integration

NAME = "secured"


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Machine:
    """The fake machine's HOME, APPDATA and XDG_CONFIG_HOME for this process and every subprocess."""
    m = Machine(tmp_path, tmp_path / "home", tmp_path / "appdata", tmp_path / "xdg", tmp_path / "project")
    for folder in (m.home, m.appdata, m.xdg, m.project):
        folder.mkdir()
    for key, value in m.env.items():
        monkeypatch.setenv(key, value)
    return m


def wrapped_entry(client: str, url: str, *headers: str) -> dict[str, Any]:
    """The stdio entry ``mcpguard wrap --remote`` gives a remote server (the very function it uses)."""
    command, args = remote_wrapped_argv(shim_launcher(), client, NAME, url, headers)
    return {"command": command, "args": args}


def write_config(path: Path, entry: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"mcpServers": {NAME: entry}}, indent=2))
    return path


def browser_launches(environ: dict[str, str]) -> int:
    log = Path(environ["FAKE_BROWSER_LOG"])
    return len(log.read_text().splitlines()) if log.exists() else 0


def stats(url: str) -> dict[str, int]:
    data: dict[str, int] = httpx.get(url.replace("/mcp", "/test/stats"), trust_env=False).json()
    return data


def command_versions(client: str) -> tuple[list[str], int]:
    """The pinned "command line" of the server as ``client`` starts it, and how many versions it has had."""
    store = Store.open(AppPaths.from_env())
    try:
        (server,) = store.find_servers(NAME, client)
        view = store.item(server.id, "command", "")
        assert view.live is not None
        return list(view.live.definition["argv"]), len(store.versions(view.id))
    finally:
        store.close()


def known_servers() -> list[str]:
    store = Store.open(AppPaths.from_env())
    try:
        return [s.name for s in store.servers()]
    finally:
        store.close()


def start_entry(entry: dict[str, Any], workdir: Path) -> Shim:
    """Start the bridge the way the client would: the entry's command and args, nothing else."""
    return Shim(NAME, [], workdir=workdir, argv=[entry["command"], *entry["args"]])


def test_login_signs_in_so_that_the_clients_first_start_needs_no_sign_in(
    oauth_server: str, signin_environ: dict[str, str], machine: Machine, tmp_path: Path
) -> None:
    entry = wrapped_entry("cursor", oauth_server, "X-Team=platform")
    write_config(machine.home / ".cursor" / "mcp.json", entry)

    login = run_cli("remote", "login", NAME)
    assert login.stdout == f"Signed in to {NAME} at 127.0.0.1; the token is in the keyring.\n"
    assert "sign in to secured at 127.0.0.1 in your browser" in login.stderr
    assert browser_launches(signin_environ) == 1
    assert stats(oauth_server)["authorizations"] == 1
    keyring = json.loads(Path(signin_environ["FILE_KEYRING_PATH"]).read_text())
    tokens = json.loads(next(v for k, v in keyring.items() if k.endswith(f"remote/{NAME}/OAUTH_TOKENS")))
    assert tokens["access_token"] not in login.stdout + login.stderr, "a token is never printed"
    assert known_servers() == [], "login pins nothing: the client's first start is the server's first connection"

    bridge = start_entry(entry, tmp_path / "bridges")
    try:
        bridge.initialize()
        assert bridge.tool_names() == [], "nothing approved yet"
        run_cli("pins", "approve", NAME, "--all")
        bridge.wait_notification("notifications/tools/list_changed", timeout=10)
        assert bridge.tool_names() == ["echo"]
        answer = bridge.call("echo", {"text": "signed in beforehand"})
        assert text_of(answer["result"]) == "signed in beforehand"
    finally:
        bridge.close()
    assert browser_launches(signin_environ) == 1, "the bridge found the token: no second sign-in"
    assert stats(oauth_server)["authorizations"] == 1
    assert "sign in" not in bridge.stderr_text()
    argv, versions = command_versions("cursor")
    issuer = httpx.get(oauth_server.replace("/mcp", "/.well-known/oauth-authorization-server"), trust_env=False)
    assert argv[-2:] == [AUTHORIZATION_SERVER, issuer.json()["issuer"]], "pinned from the stored token"
    assert versions == 1, "pinned with its authorization server from the first message: no change to approve"

    again = run_cli("remote", "login", NAME)
    assert again.stdout == f"Already signed in to {NAME} at 127.0.0.1: the token in the keyring works.\n"
    assert browser_launches(signin_environ) == 1


def test_an_unknown_name_says_so_and_suggests_wrapping(signin_environ: dict[str, str], machine: Machine) -> None:
    write_config(machine.home / ".cursor" / "mcp.json", {"command": "npx", "args": ["-y", "some-server"]})
    result = run_cli("remote", "login", "nowhere", check=False)
    assert result.returncode == 2
    assert "no AI client's config starts 'nowhere' through mcpguard remote" in result.stderr
    assert "mcpguard wrap --remote" in result.stderr
    assert browser_launches(signin_environ) == 0


def test_different_entries_in_two_clients_ask_for_the_client(
    oauth_server: str, signin_environ: dict[str, str], machine: Machine
) -> None:
    write_config(machine.home / ".cursor" / "mcp.json", wrapped_entry("cursor", oauth_server))
    write_config(machine.home / ".claude.json", wrapped_entry("claude-code", oauth_server, "X-Team=platform"))

    result = run_cli("remote", "login", NAME, check=False)
    assert result.returncode == 2
    assert "started with different options by claude-code and cursor" in result.stderr
    assert "say which with --client (claude-code or cursor)" in result.stderr
    assert browser_launches(signin_environ) == 0

    chosen = run_cli("remote", "login", NAME, "--client", "claude-code")
    assert chosen.stdout.startswith(f"Signed in to {NAME} at 127.0.0.1")
    assert browser_launches(signin_environ) == 1


DENYING_BROWSER = """\
import sys
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

query = {k: v[0] for k, v in parse_qs(urlsplit(sys.argv[-1]).query).items()}
answer = urlencode({"error": "access_denied", "error_description": "the user said no", "state": query["state"]})
httpx.get(query["redirect_uri"] + "?" + answer, trust_env=False, timeout=10)
"""


def test_the_explicit_form_and_its_failures(
    oauth_server: str, signin_environ: dict[str, str], machine: Machine, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = run_cli("remote", "login", oauth_server, "--name", NAME)
    assert first.stdout.startswith(f"Signed in to {NAME} at 127.0.0.1")
    assert browser_launches(signin_environ) == 1

    closed = oauth_server.rsplit(":", 1)[0] + ":9/mcp"  # the discard port: nothing listens there
    unreachable = run_cli("remote", "login", closed, "--name", "elsewhere", check=False)
    assert unreachable.returncode == 1
    assert unreachable.stderr.startswith("mcpguard: cannot reach the remote server 'elsewhere' at http://127.0.0.1:9")
    assert len(unreachable.stderr.splitlines()) == 1 and "Traceback" not in unreachable.stderr

    script = machine.root / "deny.py"
    script.write_text(DENYING_BROWSER)
    browser = machine.root / "denying-browser"
    browser.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}" "$@"\n')
    browser.chmod(0o755)
    monkeypatch.setenv("BROWSER", str(browser))
    refused = run_cli("remote", "login", oauth_server, "--name", "refused", check=False)
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[-1] == (
        "mcpguard: signing in to the remote server 'refused' failed: the authorization server answered "
        "'access_denied' the user said no"
    )
    assert "Traceback" not in refused.stderr

    monkeypatch.setenv("BROWSER", "/bin/true")  # a browser that opens, and a user who never signs in
    monkeypatch.setenv("MCPGUARD_SIGNIN_TIMEOUT", "1")
    late = run_cli("remote", "login", oauth_server, "--name", "late", check=False)
    assert late.returncode == 1
    assert late.stderr.splitlines()[-1] == (
        "mcpguard: signing in to the remote server 'late' failed: nobody signed in to late at 127.0.0.1 within 1 s"
    )

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    no_keyring = run_cli("remote", "login", oauth_server, "--name", "other", check=False)
    assert no_keyring.returncode == 1
    assert no_keyring.stderr.startswith("mcpguard: cannot sign in to other: ")
    assert len(no_keyring.stderr.splitlines()) == 1
    assert browser_launches(signin_environ) == 1, "no sign-in when the token could not be kept"
