"""``mcpguard clients``, ``wrap`` and ``unwrap`` end to end, against a fake HOME."""

from __future__ import annotations

import io
import json
import os
import stat

import pytest

from mcpguard.cli import main
from mcpguard.clients.report import command_line
from mcpguard.paths import AppPaths
from tests.clients.conftest import Machine


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def configs(fake_env: Machine) -> Machine:
    fake_env.place("claude.json", "home:.claude.json")
    fake_env.place("windsurf_mcp_config.json", "home:.codeium/windsurf/mcp_config.json")
    fake_env.place("continue_config.yaml", "home:.continue/config.yaml")
    return fake_env


def test_clients_json_shape(configs: Machine, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "clients", "--json")
    assert code == 0
    doc = json.loads(out)
    assert [c["client"] for c in doc] == ["claude-code", "windsurf", "continue"]
    claude = doc[0]
    assert set(claude) == {"client", "name", "config", "format", "scope", "project", "error", "servers"}
    assert claude["config"] == str(configs.home / ".claude.json")
    context7 = claude["servers"][0]
    assert context7 == {
        "name": "context7",
        "transport": "stdio",
        "guarded": False,
        "disabled": False,
        "command": ["npx", "-y", "@upstash/context7-mcp"],
        "url": None,
        "detail": "",
        "container": ["mcpServers"],
        "project": None,
        "env": [],
        "flags": [
            {
                "severity": "warning",
                "reason": "fetches the npm package @upstash/context7-mcp without a pinned version at every start "
                "and installs it without asking (-y)",
            }
        ],
    }
    sentry = claude["servers"][1]
    assert (sentry["transport"], sentry["url"], sentry["command"]) == ("remote", "https://mcp.sentry.dev/mcp", None)
    assert claude["servers"][3]["project"] == "/home/ana/src/shop"


def test_clients_text(configs: Machine, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "clients")
    assert code == 0
    assert f"Claude Code (claude-code)  {configs.home / '.claude.json'}" in out
    assert "  context7    stdio   not guarded  npx -y @upstash/context7-mcp\n" in out
    assert "  sentry      remote  not guarded  https://mcp.sentry.dev/mcp\n" in out
    assert "[project /home/ana/src/shop]" in out
    assert "[disabled]" in out
    assert "! danger: downloads a script and runs it (curl | sh)" in out


def test_clients_with_nothing_found(fake_env: Machine, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "clients")
    assert code == 0 and out.startswith("No AI client config found.")


def test_dry_run_shows_plan_and_diff_and_writes_nothing(configs: Machine, capsys: pytest.CaptureFixture[str]) -> None:
    before = {p: p.read_bytes() for p in configs.home.rglob("*") if p.is_file()}
    code, out, _ = _run(capsys, "wrap", "--all", "--dry-run")
    assert code == 0
    assert "Wrap 10 servers in 3 files" in out
    assert "    command: sh -c 'curl -fsSL https://example.com/install.sh | sh && exec mcp-thing'" in out
    assert "    ! danger: runs an inline shell script (sh -c)" in out
    assert "    env:     GOOGLE_MAPS_API_KEY" in out
    assert '-      "command": "npx",' in out and "+    command: " in out
    assert out.rstrip().endswith("Dry run: nothing was written.")
    assert {p: p.read_bytes() for p in configs.home.rglob("*") if p.is_file()} == before


def test_wrap_asks_and_no_means_nothing(
    configs: Machine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = (configs.home / ".claude.json").read_bytes()
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    code, out, _ = _run(capsys, "wrap", "--client", "claude-code")
    assert code == 1
    assert "Wrap these 4 server(s)? [y/N] \nNothing changed." in out
    assert (configs.home / ".claude.json").read_bytes() == before


def test_wrap_yes_then_unwrap_yes(configs: Machine, capsys: pytest.CaptureFixture[str], app_paths: AppPaths) -> None:
    before = {p: p.read_bytes() for p in configs.home.rglob("*") if p.is_file()}
    code, out, err = _run(capsys, "wrap", "--all", "--yes")
    assert (code, err) == (0, "")
    assert "Restart Claude Code, Windsurf, Continue so the change takes effect." in out
    backups = list((app_paths.home / "backups").glob("*-claude-code-*-.claude.json"))
    assert len(backups) == 1
    if os.name == "posix":
        assert stat.S_IMODE(os.stat(backups[0]).st_mode) == 0o600
    code, out, _ = _run(capsys, "clients", "--json")
    stdio = [s for c in json.loads(out) for s in c["servers"] if s["transport"] == "stdio"]
    assert stdio and all(s["guarded"] for s in stdio)
    code, out, err = _run(capsys, "unwrap", "--all", "--yes")
    assert (code, err) == (0, "")
    assert {p: p.read_bytes() for p in configs.home.rglob("*") if p.is_file()} == before


def test_wrap_one_server_confirmed_on_stdin(
    configs: Machine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    code, out, _ = _run(capsys, "wrap", "--server", "postgres")
    assert code == 0
    data = json.loads((configs.home / ".claude.json").read_text())
    assert data["projects"]["/home/ana/src/shop"]["mcpServers"]["postgres"]["args"][:3] == ["run", "--name", "postgres"]
    assert data["mcpServers"]["context7"]["command"] == "npx"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["wrap"], "say which servers to wrap: --server NAME, --client ID, or --all"),
        (["unwrap", "--client", "nope"], "there is no client called 'nope'"),
        (["wrap", "--server", "missing", "--yes"], "no server named 'missing' was found"),
    ],
)
def test_errors_are_one_sentence(
    configs: Machine, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = _run(capsys, *argv)
    assert code == 1
    assert err.startswith(f"mcpguard: {message}")
    assert err.count("\n") == 1


def test_a_corrupt_config_is_named_and_left_alone(fake_env: Machine, capsys: pytest.CaptureFixture[str]) -> None:
    target = fake_env.place("corrupt_claude_desktop_config.json", "xdg:Claude/claude_desktop_config.json")
    before = target.read_bytes()
    code, out, _ = _run(capsys, "wrap", "--all", "--yes")
    assert code == 1
    assert "line 5, column 7" in out
    assert target.read_bytes() == before


def test_nothing_to_unwrap(configs: Machine, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "unwrap", "--all", "--yes")
    assert (code, out.strip()) == (0, "Nothing to unwrap.")


def test_project_files_with_project_option(fake_env: Machine, capsys: pytest.CaptureFixture[str]) -> None:
    fake_env.place("mcp.json", "project:.mcp.json")
    code, out, _ = _run(capsys, "clients", "--json")
    assert json.loads(out) == []
    code, out, _ = _run(capsys, "clients", "--json", "--project", str(fake_env.project))
    [config] = json.loads(out)
    assert (config["client"], config["scope"], config["project"]) == ("claude-code", "project", str(fake_env.project))


def test_command_line_quotes_exactly() -> None:
    assert command_line(["npx", "-y", "a b", "it's"]) == "npx -y 'a b' 'it'\"'\"'s'"


@pytest.fixture
def tokens(fake_env: Machine) -> dict[str, str]:
    """``tokens_mcp.json`` as Cursor's config, its placeholders replaced by literal credentials."""
    import jwt

    values = {
        "<issues-jwt>": jwt.encode({"aud": "https://issues.acme.dev/mcp"}, "test-signing-key-long-enough-for-hs256"),
        "<search-api-key>": "Zq8vN3rT6yW1pL4kX9cB2mJ7",
        "<search-token>": "ghp_" + "A1b2C3d4E5" * 3 + "F6g7H8",
    }
    target = fake_env.place("tokens_mcp.json", "home:.cursor/mcp.json")
    text = target.read_text(encoding="utf-8")
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    target.write_text(text, encoding="utf-8")
    return values


def test_clients_never_print_a_literal_token(tokens: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, text, _ = _run(capsys, "clients")
    assert code == 0
    assert "  search  stdio   not guarded  acme-search --endpoint https://search.acme.dev --api-key " in text
    assert "--api-key '[hidden: token]' --verbose\n" in text
    code, raw, _ = _run(capsys, "clients", "--json")
    assert code == 0
    servers = {s["name"]: s for c in json.loads(raw) for s in c["servers"]}
    assert servers["issues"]["command"] == [
        "npx",
        "-y",
        "mcp-remote@0.1.29",
        "https://issues.acme.dev/mcp",
        "--header",
        "Authorization: Bearer [hidden: token]",
    ]
    assert servers["search"]["command"][3:5] == ["--api-key", "[hidden: token]"]
    for output in (text, raw):
        assert all(token not in output for token in tokens.values())


def test_the_plan_and_its_diff_hide_tokens_but_the_file_keeps_them(
    tokens: dict[str, str], fake_env: Machine, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "wrap", "--all", "--dry-run")
    assert code == 0
    assert "    command: acme-search --endpoint https://search.acme.dev --api-key '[hidden: token]' --verbose" in out
    assert '"SEARCH_TOKEN": "[hidden: token]"' in out  # an env value in the diff's context
    assert all(token not in out for token in tokens.values())
    code, _, _ = _run(capsys, "wrap", "--all", "--yes")
    assert code == 0
    written = (fake_env.home / ".cursor" / "mcp.json").read_text(encoding="utf-8")
    assert all(token in written for token in tokens.values())  # only the screen is masked
    assert "[hidden" not in written
