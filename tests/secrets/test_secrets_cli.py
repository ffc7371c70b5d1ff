"""``mcpguard secrets set|list|delete|migrate``: values never printed, errors one sentence, exit 1."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from keyring.backends import fail

from mcpguard.cli import main
from mcpguard.paths import AppPaths
from mcpguard.secrets import keyring_store
from mcpguard.secrets.integrity import INTEGRITY_KEY_NAME, integrity_key, key_exists
from mcpguard.secrets.keyring_store import KeyringStore
from tests.clients.conftest import Machine
from tests.secrets.conftest import GITHUB_TOKEN, PASSWORD

Store = Callable[[], KeyringStore]


def run(capsys: pytest.CaptureFixture[str], *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    if stdin is not None:
        import sys

        old = sys.stdin
        sys.stdin = io.StringIO(stdin)
        try:
            code = main(list(args))
        finally:
            sys.stdin = old
    else:
        code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_set_from_stdin_list_delete(cli_store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "secrets", "set", "github", "GITHUB_TOKEN", stdin=GITHUB_TOKEN + "\n")
    assert code == 0, err
    assert "Stored github/GITHUB_TOKEN in the keyring (fake keyring)" in out
    assert GITHUB_TOKEN not in out + err
    assert cli_store().get("github/GITHUB_TOKEN") == GITHUB_TOKEN  # one trailing newline dropped

    code, out, _ = run(capsys, "secrets", "list")  # the first `secrets set` made the integrity key too
    assert code == 0 and out.splitlines()[0].split() == ["github", "GITHUB_TOKEN"]
    assert out.splitlines()[1].startswith("mcpguard/integrity-key  (mcpguard's own")
    code, out, _ = run(capsys, "secrets", "list", "--json")
    assert json.loads(out) == [
        {"name": "github/GITHUB_TOKEN", "server": "github", "variable": "GITHUB_TOKEN", "internal": False},
        {"name": "mcpguard/integrity-key", "server": "mcpguard", "variable": "integrity-key", "internal": True},
    ]

    code, out, _ = run(capsys, "secrets", "delete", "github", "GITHUB_TOKEN")
    assert code == 0 and "Deleted github/GITHUB_TOKEN" in out
    assert cli_store().get("github/GITHUB_TOKEN") is None
    code, out, _ = run(capsys, "secrets", "list")
    assert out.split()[0] == "mcpguard/integrity-key" and "github" not in out


def test_first_set_creates_the_integrity_key_and_signs_approvals(
    cli_store: Store, app_paths: AppPaths, capsys: pytest.CaptureFixture[str]
) -> None:
    """The user is dealing with the keyring anyway: the first ``secrets set`` makes the key, once."""
    from mcpguard.pinning.store import Store as PinStore
    from tests.factories import make_tool

    pins = PinStore.open(app_paths)
    server = pins.server("claude", "fs")
    pins.observe(server.id, "tool", {"t": make_tool("t")})
    pins.decide(server.id, "tool", "t", "approve", actor="test")
    assert not key_exists(app_paths.root)

    code, _, err = run(capsys, "secrets", "set", "github", "GITHUB_TOKEN", stdin=GITHUB_TOKEN)
    assert code == 0, err
    assert key_exists(app_paths.root)
    key = integrity_key(cli_store())
    pins.set_integrity_key(key)
    assert pins.item(server.id, "tool", "t").approved is not None  # signed when the key was made
    run(capsys, "secrets", "set", "db", "PGPASSWORD", stdin=PASSWORD)
    assert cli_store().get(INTEGRITY_KEY_NAME) == key.hex()  # never made again
    pins.close()


def test_set_keeps_inner_whitespace_and_crlf(cli_store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "secrets", "set", "db", "PGPASSWORD", stdin=" two words \r\n")
    assert cli_store().get("db/PGPASSWORD") == " two words "


def test_set_reads_without_echo_from_a_terminal(
    cli_store: Store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import getpass
    import sys

    prompts: list[str] = []
    fake_tty = io.StringIO("")
    monkeypatch.setattr(fake_tty, "isatty", lambda: True)
    monkeypatch.setattr(sys, "stdin", fake_tty)

    def fake_getpass(prompt: str) -> str:
        prompts.append(prompt)
        return PASSWORD

    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    assert main(["secrets", "set", "db", "PGPASSWORD"]) == 0
    assert prompts == ["Value of db/PGPASSWORD (input is not shown): "]
    assert cli_store().get("db/PGPASSWORD") == PASSWORD


def test_set_errors(cli_store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "secrets", "set", "github", "GITHUB-TOKEN", stdin="x")
    assert code == 1 and "not a usable environment variable name" in err
    code, _, err = run(capsys, "secrets", "set", "github", "GITHUB_TOKEN", stdin="")
    assert code == 1 and "no value was given" in err
    assert cli_store().names() == []


def test_no_keyring_is_one_sentence_with_the_install_hint(
    app_paths: AppPaths, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = KeyringStore(str(app_paths.home), backend=fail.Keyring())  # type: ignore[no-untyped-call]
    monkeypatch.setattr(keyring_store, "open_store", lambda paths: store)
    code, out, err = run(capsys, "secrets", "set", "github", "GITHUB_TOKEN", stdin=GITHUB_TOKEN)
    assert code == 1
    assert err.startswith("mcpguard: mcpguard cannot keep secrets: no OS keyring is available; install and unlock")
    assert "gnome-keyring or KeePassXC" in err
    assert err.count("\n") == 1
    assert GITHUB_TOKEN not in out + err
    assert not (app_paths.home / "secrets-index.json").exists()


def test_delete_unknown_and_internal(cli_store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    integrity_key(cli_store())
    code, _, err = run(capsys, "secrets", "delete", "github", "GITHUB_TOKEN")
    assert code == 1 and "no secret github/GITHUB_TOKEN is stored (stored: none)" in err
    code, _, err = run(capsys, "secrets", "delete", "mcpguard", "integrity-key")
    assert code == 1 and "mcpguard's own key" in err
    _, out, _ = run(capsys, "secrets", "list")
    assert "mcpguard/integrity-key  (mcpguard's own" in out


@pytest.fixture
def wrapped_machine(fake_env: Machine, capsys: pytest.CaptureFixture[str]) -> Path:
    """Claude Code's ~/.claude.json with a token, wrapped through the CLI."""
    path = fake_env.place("claude.json", "home:.claude.json")
    text = path.read_text(encoding="utf-8").replace(
        '"NOTES_DIR": "/home/ana/Notes"', f'"NOTES_DIR": "/home/ana/Notes",\n        "NOTES_TOKEN": "{GITHUB_TOKEN}"'
    )
    path.write_text(text, encoding="utf-8")
    code, _, err = run(capsys, "wrap", "--all", "--yes")
    assert code == 0, err
    return path


def test_migrate_dry_run_shows_a_redacted_plan_and_writes_nothing(
    wrapped_machine: Path, cli_store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    before = wrapped_machine.read_bytes()
    code, out, err = run(capsys, "secrets", "migrate", "--dry-run")
    assert code == 0, err
    assert "notes  NOTES_TOKEN: a GitHub token by its shape -> keyring notes/NOTES_TOKEN" in out
    assert '-        "NOTES_TOKEN": "[redacted:notes/NOTES_TOKEN]"' in out
    assert GITHUB_TOKEN not in out + err
    assert "Dry run: nothing was written." in out
    assert wrapped_machine.read_bytes() == before
    assert cli_store().names() == []


def test_migrate_dry_run_without_a_keyring_still_plans(
    wrapped_machine: Path, app_paths: AppPaths, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = KeyringStore(str(app_paths.home), backend=fail.Keyring())  # type: ignore[no-untyped-call]
    monkeypatch.setattr(keyring_store, "open_store", lambda paths: store)
    code, out, _ = run(capsys, "secrets", "migrate", "--dry-run")
    assert code == 0
    assert "notes/NOTES_TOKEN" in out and "Note: mcpguard cannot keep secrets" in out
    code, _, err = run(capsys, "secrets", "migrate", "--yes")
    assert code == 1 and "install and unlock a Secret Service" in err


def test_migrate_asks_then_moves(
    wrapped_machine: Path, app_paths: AppPaths, cli_store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "secrets", "migrate", stdin="n\n")
    assert code == 1 and "Nothing changed." in out
    assert GITHUB_TOKEN in wrapped_machine.read_text(encoding="utf-8")

    code, out, err = run(capsys, "secrets", "migrate", stdin="y\n")
    assert code == 0, err
    assert "1 moved to the keyring" in out and "Restart Claude Code" in out
    assert GITHUB_TOKEN not in out + err
    assert cli_store().get("notes/NOTES_TOKEN") == GITHUB_TOKEN
    assert key_exists(app_paths.root)  # the first migration made the integrity key too
    assert GITHUB_TOKEN not in wrapped_machine.read_text(encoding="utf-8")
    for path in (app_paths.home / "backups").iterdir():
        assert GITHUB_TOKEN not in path.read_text(encoding="utf-8"), path

    code, out, _ = run(capsys, "secrets", "migrate", "--yes")
    assert code == 0 and "No plaintext secret to move." in out


def test_migrate_unknown_client(cli_store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "secrets", "migrate", "--client", "nope")
    assert code == 1 and "there is no client called 'nope'" in err
