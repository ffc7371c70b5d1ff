"""Wrapped remote entries without a record (a lost profile, a config from another machine): rebuilt, not refused."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from mcpguard.clients import entries, formats
from mcpguard.clients.discovery import discover
from mcpguard.clients.operations import SECRET_MASK, apply, make_plan
from mcpguard.clients.records import WrapRecords
from mcpguard.clients.report import print_plan
from mcpguard.clients.table import CLIENTS, Format
from mcpguard.paths import AppPaths
from mcpguard.secrets.base import SecretsUnavailable
from mcpguard.secrets.memory import MemoryStore
from tests.clients.conftest import Machine
from tests.clients.test_remote_wrap import API_KEY, LAUNCHER, SECRETS, TOKEN, _place

CLAUDE_DESKTOP = "home:Library/Application Support/Claude/claude_desktop_config.json"

# fixture, where, platform, server, the lines the rebuild writes in place of the wrapped ones, the entry it reads as
REBUILD_CASES: list[tuple[str, str, str, str, str, dict[str, Any]]] = [
    ("remote_mcp.json", "project:.mcp.json", "linux", "sentry",  # Claude Code: type http, url, headers
     '      "type": "http",\n'
     '      "url": "https://mcp.sentry.dev/mcp",\n'
     f'      "headers": {{"Authorization": "{TOKEN}", "X-Team": "platform"}}\n',
     {"type": "http", "url": "https://mcp.sentry.dev/mcp", "headers": {"Authorization": TOKEN, "X-Team": "platform"}}),
    ("windsurf_mcp_config.json", "home:.codeium/windsurf/mcp_config.json", "win32", "figma",  # serverUrl
     '      "serverUrl": "https://mcp.figma.com/mcp"\n',
     {"serverUrl": "https://mcp.figma.com/mcp"}),
    ("gemini_settings.json", "home:.gemini/settings.json", "linux", "httpServer",  # httpUrl, other keys stay
     '      "httpUrl": "https://api.example.com/mcp",\n'
     '      "headers": {"Authorization": "Bearer your-api-token"},\n',
     {"httpUrl": "https://api.example.com/mcp", "headers": {"Authorization": "Bearer your-api-token"},
      "timeout": 5000}),
    ("remote_continue.yaml", "home:.continue/config.yaml", "linux", "Sentry",  # requestOptions.headers
     "    type: streamable-http\n"
     '    url: "https://mcp.sentry.dev/mcp"   # moved here in 2025\n'
     "    requestOptions:\n"
     "      headers:\n"
     f'        Authorization: "{TOKEN}"\n'
     "        X-Team: platform\n",
     {"name": "Sentry", "type": "streamable-http", "url": "https://mcp.sentry.dev/mcp",
      "requestOptions": {"headers": {"Authorization": TOKEN, "X-Team": "platform"}}}),
    ("remote_goose.yaml", "xdg:goose/config.yaml", "linux", "tavily",  # uri, headers; envs, timeout... stay
     "    type: streamable_http\n"
     '    uri: "https://mcp.tavily.com/mcp/"\n'
     "    headers:\n"
     f'      Authorization: "Bearer {SECRETS["<tavily-key>"]}"\n'
     "      X-Client: goose\n",
     {"enabled": True, "name": "tavily", "type": "streamable_http", "uri": "https://mcp.tavily.com/mcp/",
      "headers": {"Authorization": "Bearer " + SECRETS["<tavily-key>"], "X-Client": "goose"}, "envs": {},
      "env_keys": [], "description": "", "timeout": 300, "bundled": None}),
    ("remote_codex.toml", "home:.codex/config.toml", "linux", "figma",  # url, http_headers; the comment stays
     'url = "https://mcp.figma.com/mcp"   # the desktop app serves http://127.0.0.1:3845/mcp\n'
     f'http_headers = {{X-Figma-Token = "{SECRETS["<figma-token>"]}", X-Region = "eu"}}\n',
     {"url": "https://mcp.figma.com/mcp", "http_headers": {"X-Figma-Token": SECRETS["<figma-token>"], "X-Region": "eu"},
      "startup_timeout_sec": 20}),
    ("remote_mcp.json", CLAUDE_DESKTOP, "darwin", "linear",  # Claude Desktop has no remote form: npx mcp-remote
     '      "command": "npx",\n'
     f'      "args": ["-y", "mcp-remote", "https://mcp.linear.app/sse", "--header", "X-Api-Key:{API_KEY}"],\n',
     {"command": "npx", "args": ["-y", "mcp-remote", "https://mcp.linear.app/sse", "--header", f"X-Api-Key:{API_KEY}"],
      "env": {}}),
]  # fmt: skip


def _wrap(machine: Machine, app_paths: AppPaths, platform: str, secrets: MemoryStore) -> None:
    """Wrap every entry, remote ones too, then lose the profile's records (the case under test)."""
    plan = make_plan("wrap", discover(machine.env, platform, [machine.project]), launcher=LAUNCHER,
                     records=WrapRecords(app_paths), secrets=secrets, remote=True)  # fmt: skip
    assert all(r.error is None for r in apply(plan, app_paths))
    (app_paths.home / "wraps.json").unlink()


def _entry(path: Path, fmt: Format, server: str) -> Any:
    data = formats.load(path.read_text(encoding="utf-8"), fmt, str(path)).data
    for container in (data.get("mcpServers"), data.get("extensions"), data.get("mcp_servers")):
        if isinstance(container, dict) and server in container:
            return container[server]
        if isinstance(container, list):
            return next(e for e in container if e.get("name") == server)
    raise KeyError(server)


@pytest.mark.parametrize(
    ("fixture", "where", "platform", "server", "lines", "expected"),
    REBUILD_CASES,
    ids=[c[3] + "-" + c[0] for c in REBUILD_CASES],
)
def test_an_entry_without_a_record_is_rebuilt_in_the_clients_remote_form(
    machine: Machine,
    app_paths: AppPaths,
    fixture: str,
    where: str,
    platform: str,
    server: str,
    lines: str,
    expected: dict[str, Any],
) -> None:
    target = _place(machine, fixture, where)
    fmt: Format = "jsonc" if fixture.endswith(".json") else "yaml" if fixture.endswith(".yaml") else "toml"
    secrets = MemoryStore()
    _wrap(machine, app_paths, platform, secrets)
    wrapped = target.read_text(encoding="utf-8")

    plan = make_plan("unwrap", discover(machine.env, platform, [machine.project]), server=server,
                     records=WrapRecords(app_paths), secrets=secrets)  # fmt: skip
    (action,) = plan.actions
    assert not plan.skipped and not plan.errors
    assert any("rebuilt from the wrapped command (no record" in f.reason for f in action.flags)
    shown = io.StringIO()
    print_plan(plan, shown, diff=True)
    assert "rebuilt from the wrapped command" in shown.getvalue()  # the plan says so, for that entry
    assert all(value not in shown.getvalue() for value in SECRETS.values())  # and masks what the keyring gave
    (result,) = apply(plan, app_paths)
    assert result.error is None and result.backup is not None
    assert result.backup.read_text(encoding="utf-8") == wrapped  # the wrapped file is in the backup

    after = target.read_text(encoding="utf-8")
    old, new = formats.changed_lines(wrapped, after)
    assert new == lines  # only the entry's own lines changed: every other byte of the file is as it was
    assert "--name" in old and server in old
    assert _entry(target, fmt, server) == expected
    again = discover(machine.env, platform, [machine.project])
    (entry,) = [s for c in again for s in c.servers if s.name == server and c.path == target]
    assert entry.transport == "remote" and not entry.guarded


def test_every_client_has_a_remote_form_its_own_tables_recognise() -> None:
    """The rebuild writes only what discovery and ``wrap --remote`` read as remote for that client."""
    for spec in CLIENTS:
        form = entries.REMOTE_FORMS[spec.id]
        shape = spec.shape
        for url in ("https://x.example/mcp", "https://x.example/sse"):
            key, kind = form.spelled(url)
            headers: dict[str, Any] = {"X-Team": "platform"}
            for part in reversed(form.headers[1:]):
                headers = {part: headers}
            entry: dict[str, Any]
            if key is None:
                entry = {shape.command: "npx", shape.args: ["-y", "mcp-remote", url, "--header", "X-Team:platform"]}
            else:
                entry = {key: url, form.headers[0]: headers} | ({"type": kind} if kind else {})
                assert key in shape.remote_keys and (kind is None or kind in shape.remote_types), spec.id
                assert tuple(form.headers) in shape.header_keys, spec.id
            assert entries.classify(entry, shape).transport == "remote", spec.id
            source = entries.remote_source(entry, shape)
            assert not isinstance(source, str), (spec.id, source)
            assert (source.url, source.headers) == (url, (("X-Team", "platform"),)), spec.id


def test_a_secret_missing_from_the_keyring_refuses_that_entry_only(machine: Machine, app_paths: AppPaths) -> None:
    target = _place(machine, "remote_mcp.json", "project:.mcp.json")
    secrets = MemoryStore()
    _wrap(machine, app_paths, "linux", secrets)
    secrets.delete("remote/sentry/HEADER_Authorization")
    wrapped = target.read_text(encoding="utf-8")
    plan = make_plan("unwrap", discover(machine.env, "linux", [machine.project]), records=WrapRecords(app_paths),
                     secrets=secrets)  # fmt: skip
    reasons = {s.server.name: s.reason for s in plan.skipped}
    assert set(reasons) == {"sentry"}
    assert "'remote/sentry/HEADER_Authorization', which the keyring does not hold" in reasons["sentry"]
    assert "does not write the entry without it" in reasons["sentry"]
    assert "(mcpguard secrets set remote/sentry HEADER_Authorization)" in reasons["sentry"]
    assert {a.server.name for a in plan.actions} == {"events", "linear", "legacy", "local"}
    assert all(r.error is None for r in apply(plan, app_paths))
    servers = json.loads(target.read_text(encoding="utf-8"))["mcpServers"]
    assert servers["sentry"] == json.loads(wrapped)["mcpServers"]["sentry"]  # left wrapped, not half-written
    assert servers["linear"]["headers"] == {"X-Api-Key": API_KEY}
    assert servers["local"] == {"command": "uvx", "args": ["mcp-server-time"]}
    assert servers["events"] == {"type": "sse", "url": "https://events.example.com/sse", "headers": {"X-Region": "eu"}}


def test_a_record_from_another_profile_rebuilds_yaml_and_refuses_what_its_keyring_lacks(
    machine: Machine, app_paths: AppPaths, tmp_path: Path
) -> None:
    """The config came from another machine: this profile has neither the records nor the secrets."""
    target = _place(machine, "remote_continue.yaml", "home:.continue/config.yaml")
    plan = make_plan("wrap", discover(machine.env, "linux"), launcher=LAUNCHER, records=WrapRecords(app_paths),
                     secrets=MemoryStore(), remote=True)  # fmt: skip
    apply(plan, app_paths)
    other = AppPaths.under(tmp_path / "other-profile")
    plan = make_plan("unwrap", discover(machine.env, "linux"), records=WrapRecords(other), secrets=MemoryStore())
    reasons = {s.server.name: s.reason for s in plan.skipped if "not guarded" not in s.reason}
    assert set(reasons) == {"Sentry", "Docs", "Bridge"}
    assert all("which the keyring does not hold" in r for r in reasons.values())
    assert {a.server.name for a in plan.actions} == {"Linear (SSE)", "Time"}
    assert all(r.error is None for r in apply(plan, other))
    text = target.read_text(encoding="utf-8")
    assert "@keyring:remote/Sentry/HEADER_Authorization" in text  # left as it was
    assert '  - name: Linear (SSE)\n    type: sse\n    url: "https://mcp.linear.app/sse"\n' in text
    assert "args: [mcp-server-time==0.6.2]" in text  # the local server, from its own args


def test_a_locked_keyring_refuses_an_entry_that_needs_it(machine: Machine, app_paths: AppPaths) -> None:
    _place(machine, "remote_goose.yaml", "xdg:goose/config.yaml")
    secrets = MemoryStore()
    _wrap(machine, app_paths, "linux", secrets)
    secrets.unavailable = SecretsUnavailable("the keyring is locked")
    plan = make_plan("unwrap", discover(machine.env, "linux"), records=WrapRecords(app_paths), secrets=secrets)
    reasons = {s.server.name: s.reason for s in plan.skipped}
    assert "comes from the keyring, which is not usable (the keyring is locked)" in reasons["tavily"]
    assert {"context7", "github-remote"} <= {a.server.name for a in plan.actions}


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda args: [*args, "--timeout", "30"], "the option '--timeout', which mcpguard does not write"),
        (lambda args: [a.replace("HEADER_Authorization", "mine") for a in args], "names the keyring item"),
        (lambda args: [("other" if a == "sentry" else a) for a in args], "--name 'other'"),
        (lambda args: [a for a in args if a != "--client"], "as mcpguard writes it"),
    ],
    ids=["extra-option", "keyring-name", "name", "unparsable"],
)
def test_a_wrapped_command_edited_by_hand_is_still_refused(
    machine: Machine, app_paths: AppPaths, edit: Any, says: str
) -> None:
    target = _place(machine, "remote_mcp.json", "project:.mcp.json")
    secrets = MemoryStore()
    _wrap(machine, app_paths, "linux", secrets)
    doc = json.loads(target.read_text(encoding="utf-8"))
    doc["mcpServers"]["sentry"]["args"] = edit(doc["mcpServers"]["sentry"]["args"])
    target.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    edited = json.loads(target.read_text(encoding="utf-8"))["mcpServers"]["sentry"]
    plan = make_plan("unwrap", discover(machine.env, "linux", [machine.project]), records=WrapRecords(app_paths),
                     secrets=secrets)  # fmt: skip
    reasons = {s.server.name: s.reason for s in plan.skipped}
    assert says in reasons["sentry"] and "restore it from the backup or edit it by hand" in reasons["sentry"]
    assert "sentry" not in {a.server.name for a in plan.actions} and "linear" in {a.server.name for a in plan.actions}
    assert all(r.error is None for r in apply(plan, app_paths))
    assert json.loads(target.read_text(encoding="utf-8"))["mcpServers"]["sentry"] == edited


def test_a_rebuild_that_would_touch_another_entry_writes_nothing(
    machine: Machine, app_paths: AppPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rebuilt text is parsed again and compared before anything is written."""
    target = _place(machine, "remote_mcp.json", "project:.mcp.json")
    secrets = MemoryStore()
    _wrap(machine, app_paths, "linux", secrets)
    wrapped = target.read_bytes()
    real = formats.JsonDocument.rebuild_remote

    def sloppy(self: formats.JsonDocument, *args: Any) -> str:
        return real(self, *args).replace('"mcp-server-time"', '"mcp-server-time==0.0.1"')

    monkeypatch.setattr(formats.JsonDocument, "rebuild_remote", sloppy)
    plan = make_plan("unwrap", discover(machine.env, "linux", [machine.project]), server="sentry",
                     records=WrapRecords(app_paths), secrets=secrets)  # fmt: skip
    (skipped,) = plan.skipped
    assert "would not read back as intended" in skipped.reason and not plan.actions
    apply(plan, app_paths)
    assert target.read_bytes() == wrapped


def test_the_command_line_rebuilds_with_dry_run_and_yes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mcpguard.cli import main
    from mcpguard.secrets import keyring_store

    store = MemoryStore()
    monkeypatch.setattr(keyring_store, "open_store", lambda paths: store)
    home = tmp_path / "home"
    config = home / ".cursor" / "mcp.json"
    config.parent.mkdir(parents=True)
    config.write_text(
        '{\n  "mcpServers": {\n    "linear": {\n      "url": "https://mcp.linear.app/mcp",\n'
        f'      "headers": {{"Authorization": "{TOKEN}"}}\n    }}\n  }}\n}}\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    assert main(["wrap", "--all", "--remote", "--yes"]) == 0
    assert TOKEN not in config.read_text(encoding="utf-8")
    (AppPaths.from_env().home / "wraps.json").unlink()
    wrapped = config.read_bytes()
    capsys.readouterr()
    assert main(["unwrap", "--all", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "rebuilt from the wrapped command (no record of the original in this profile)" in out
    assert SECRET_MASK in out and TOKEN not in out
    assert config.read_bytes() == wrapped
    assert main(["unwrap", "--all", "--yes"]) == 0
    assert json.loads(config.read_bytes())["mcpServers"]["linear"] == {
        "url": "https://mcp.linear.app/mcp",
        "headers": {"Authorization": TOKEN},
    }
    capsys.readouterr()


def test_the_wrapped_command_is_read_only_in_the_form_mcpguard_writes() -> None:
    command, args = entries.remote_wrapped_argv(
        ["/usr/bin/python3", "-m", "mcpguard"], "cursor", "docs", "https://x/mcp", ["A=b", "K=@keyring:k"]
    )
    parsed = entries.parse_remote_wrapped(command, args)
    assert parsed == entries.RemoteWrapped(
        ("/usr/bin/python3", "-m", "mcpguard"), "https://x/mcp", "docs", "cursor", (("A", "b"), ("K", "@keyring:k"))
    )
    assert isinstance(entries.parse_remote_wrapped(command, [*args, "--header"]), str)
    assert isinstance(entries.parse_remote_wrapped(command, [*args, "--header", "A=c"]), str)  # twice
    assert isinstance(entries.parse_remote_wrapped("/usr/bin/node", args[2:]), str)
    assert isinstance(entries.parse_remote_wrapped(command, [*args[:3], "file:///x", *args[4:]]), str)
