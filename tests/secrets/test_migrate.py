"""Migration on the fixture configs: values leave the files and every backup, land in the store, reach the shim."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcpguard.clients.discovery import ConfigFile, discover
from mcpguard.clients.formats import load
from mcpguard.clients.operations import apply as apply_wrap
from mcpguard.clients.operations import make_plan as plan_wrap
from mcpguard.clients.records import WrapRecords
from mcpguard.paths import AppPaths
from mcpguard.secrets import migrate
from mcpguard.secrets.base import SecretsUnavailable
from mcpguard.secrets.inject import server_secrets
from mcpguard.secrets.keyring_store import KeyringStore
from mcpguard.secrets.memory import MemoryStore
from tests.clients.conftest import Machine
from tests.secrets.conftest import GITHUB_TOKEN, OPENAI_KEY, PASSWORD, FakeBackend

LAUNCHER = ["/opt/mcpguard/bin/mcpguard"]
DOCS_TOKEN = "t0k3n-for-the-docs-index"


def _place(machine: Machine, fixture: str, where: str, replacements: dict[str, str]) -> Path:
    path = machine.place(fixture, where)
    text = path.read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return path


def _configs(machine: Machine, platform: str) -> list[ConfigFile]:
    configs = discover(machine.env, platform, [machine.project])
    assert all(c.error is None for c in configs)
    return configs


def _wrap(machine: Machine, platform: str, paths: AppPaths, server: str | None = None) -> None:
    plan = plan_wrap("wrap", _configs(machine, platform), server=server, launcher=LAUNCHER, records=WrapRecords(paths))
    assert all(r.error is None for r in apply_wrap(plan, paths))


def _profile_texts(paths: AppPaths) -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in migrate.profile_files(paths)}


@pytest.fixture
def desktop(machine: Machine) -> Path:
    """Claude Desktop (macOS) with a real-looking token where the fixture has a placeholder."""
    return _place(
        machine,
        "claude_desktop_config.json",
        "home:Library/Application Support/Claude/claude_desktop_config.json",
        {'"<YOUR_TOKEN>"': json.dumps(GITHUB_TOKEN)},
    )


def test_json_secret_moves_out_of_the_file_and_every_backup(
    machine: Machine, desktop: Path, app_paths: AppPaths, keyring_with_fake: KeyringStore
) -> None:
    _wrap(machine, "darwin", app_paths)
    assert any(GITHUB_TOKEN in t for t in _profile_texts(app_paths).values())  # wrap's backup holds it
    before = load(desktop.read_text(encoding="utf-8"), "json", "x").data

    plan = migrate.make_plan(_configs(machine, "darwin"), store=keyring_with_fake)
    assert [(m.name, m.found.kind) for m in plan.moves] == [("github/GITHUB_PERSONAL_ACCESS_TOKEN", "github-token")]
    assert GITHUB_TOKEN not in plan.files[0].diff(plan.redactor())
    results, scrubbed = migrate.apply(plan, keyring_with_fake, app_paths)

    assert [r.error for r in results] == [None]
    assert keyring_with_fake.get("github/GITHUB_PERSONAL_ACCESS_TOKEN") == GITHUB_TOKEN
    text = desktop.read_text(encoding="utf-8")
    assert GITHUB_TOKEN not in text
    after = load(text, "json", "x").data
    assert after["mcpServers"]["github"]["env"] == {}
    before["mcpServers"]["github"]["env"] = {}
    assert after == before  # nothing else changed; still wrapped
    texts = _profile_texts(app_paths)
    assert texts and not any(GITHUB_TOKEN in t for t in texts.values())
    assert results[0].backup in scrubbed.changed and scrubbed.remaining == []
    backup = results[0].backup
    assert backup is not None
    assert load(backup.read_text(encoding="utf-8"), "json", "b").data["mcpServers"]["github"]["env"] == {
        "GITHUB_PERSONAL_ACCESS_TOKEN": migrate.SCRUBBED
    }
    # the shim finds it under the wrapped entry's --name
    assert server_secrets(str(app_paths.home), "github", store=keyring_with_fake) == {
        "GITHUB_PERSONAL_ACCESS_TOKEN": GITHUB_TOKEN
    }


def test_yaml_goose_envs(machine: Machine, app_paths: AppPaths, memory_store: MemoryStore) -> None:
    path = _place(machine, "goose_config.yaml", "home:.config/goose/config.yaml", {"<YOUR_TOKEN>": GITHUB_TOKEN})
    _wrap(machine, "darwin", app_paths)
    plan = migrate.make_plan(_configs(machine, "darwin"), store=memory_store)
    assert [m.name for m in plan.moves] == ["github/GITHUB_PERSONAL_ACCESS_TOKEN"]
    results, scrubbed = migrate.apply(plan, memory_store, app_paths)
    assert [r.error for r in results] == [None]
    text = path.read_text(encoding="utf-8")
    assert GITHUB_TOKEN not in text and "    envs: {}\n" in text
    assert "# local tools, started by uv" in text
    assert not any(GITHUB_TOKEN in t for t in _profile_texts(app_paths).values())


def test_toml_inline_table_scrubbed_from_wraps_json_and_unwrap_still_works(
    machine: Machine, app_paths: AppPaths, memory_store: MemoryStore
) -> None:
    path = _place(
        machine,
        "codex_config.toml",
        "home:.codex/config.toml",
        {
            'env = { DEBUG = "1" }': f'env = {{ DEBUG = "1", ECHO_API_KEY = "{OPENAI_KEY}" }}',
            '"t0k3n"': f'"{DOCS_TOKEN}"',
        },
    )
    original = path.read_text(encoding="utf-8")
    _wrap(machine, "linux", app_paths)
    assert OPENAI_KEY in (app_paths.home / "wraps.json").read_text(encoding="utf-8")  # the inline table's text
    plan = migrate.make_plan(_configs(machine, "linux"), store=memory_store)
    assert sorted(m.name for m in plan.moves) == ["docs/DOCS_TOKEN", "echo/ECHO_API_KEY"]
    results, _ = migrate.apply(plan, memory_store, app_paths)
    assert [r.error for r in results] == [None]
    text = path.read_text(encoding="utf-8")
    assert OPENAI_KEY not in text and DOCS_TOKEN not in text
    assert not any(s in t for t in _profile_texts(app_paths).values() for s in (OPENAI_KEY, DOCS_TOKEN))

    unwrap = plan_wrap("unwrap", _configs(machine, "linux"), records=WrapRecords(app_paths))
    assert all(r.error is None for r in apply_wrap(unwrap, app_paths))
    # the original bytes, minus the two variables (tomlkit leaves a space where one was)
    assert path.read_text(encoding="utf-8") == original.replace(f', ECHO_API_KEY = "{OPENAI_KEY}"', " ").replace(
        f'DOCS_TOKEN = "{DOCS_TOKEN}"\n', ""
    )


def test_what_is_left_in_place_and_why(machine: Machine, app_paths: AppPaths, memory_store: MemoryStore) -> None:
    _place(
        machine,
        "cursor_mcp.json",
        "home:.cursor/mcp.json",
        {
            '"API_KEY": "value"': f'"API_KEY": "{OPENAI_KEY}"',
            '"--tools=all"': f'"--api-key={GITHUB_TOKEN}"',
        },
    )
    _wrap(machine, "linux", app_paths, server="local-py")
    plan = migrate.make_plan(_configs(machine, "linux"), store=memory_store)
    assert [(m.server.name, m.variable) for m in plan.moves] == [("local-py", "API_KEY")]
    left = {(x.server.name, x.found.where): x.reason for x in plan.left}
    assert "client sends to a remote server" in left[("remote-docs", "headers")]
    assert "command line" in left[("stripe", "args")]
    assert set(left) == {("remote-docs", "headers"), ("stripe", "args")}


def test_unguarded_servers_are_left_with_the_wrap_command(
    machine: Machine, desktop: Path, memory_store: MemoryStore
) -> None:
    plan = migrate.make_plan(_configs(machine, "darwin"), store=memory_store)
    assert plan.moves == []
    (left,) = plan.left
    assert "mcpguard wrap --client claude-desktop --server github" in left.reason
    assert GITHUB_TOKEN not in left.reason


def test_a_different_value_under_the_same_name_is_not_overwritten(
    machine: Machine, desktop: Path, app_paths: AppPaths
) -> None:
    _wrap(machine, "darwin", app_paths)
    store = MemoryStore({"github/GITHUB_PERSONAL_ACCESS_TOKEN": "an-older-different-token"})
    plan = migrate.make_plan(_configs(machine, "darwin"), store=store)
    assert plan.moves == []
    assert "already holds a different value" in plan.left[0].reason
    same = MemoryStore({"github/GITHUB_PERSONAL_ACCESS_TOKEN": GITHUB_TOKEN})
    assert len(migrate.make_plan(_configs(machine, "darwin"), store=same).moves) == 1


def test_no_keyring_no_write(machine: Machine, desktop: Path, app_paths: AppPaths) -> None:
    _wrap(machine, "darwin", app_paths)
    before = desktop.read_bytes()
    plan = migrate.make_plan(_configs(machine, "darwin"), store=None)  # a dry run may plan without a keyring
    store = MemoryStore()
    store.unavailable = SecretsUnavailable("install and unlock a Secret Service such as gnome-keyring or KeePassXC")
    with pytest.raises(SecretsUnavailable):
        migrate.apply(plan, store, app_paths)
    assert desktop.read_bytes() == before


def test_a_value_changed_since_the_plan_is_refused(
    machine: Machine, desktop: Path, app_paths: AppPaths, memory_store: MemoryStore
) -> None:
    _wrap(machine, "darwin", app_paths)
    plan = migrate.make_plan(_configs(machine, "darwin"), store=memory_store)
    desktop.write_text(desktop.read_text(encoding="utf-8").replace(GITHUB_TOKEN, GITHUB_TOKEN[:-4] + "ZZZZ"))
    changed = desktop.read_bytes()
    results, _ = migrate.apply(plan, memory_store, app_paths)
    assert results[0].error is not None and "changed since it was read" in results[0].error
    assert desktop.read_bytes() == changed


def test_an_interrupted_run_is_scrubbed_by_the_next(
    machine: Machine, desktop: Path, app_paths: AppPaths, memory_store: MemoryStore
) -> None:
    """The keyring has the value and the config is clean, but a backup still holds it (a crash in between)."""
    _wrap(machine, "darwin", app_paths)
    memory_store.set("github/GITHUB_PERSONAL_ACCESS_TOKEN", GITHUB_TOKEN)
    scrubbed = migrate.scrub_profile(app_paths, migrate.known_values(memory_store))
    assert scrubbed.changed and scrubbed.remaining == []
    assert not any(GITHUB_TOKEN in t for t in _profile_texts(app_paths).values())
    assert migrate.scrub_profile(app_paths, migrate.known_values(memory_store)).changed == []


def test_encodings_cover_escaped_forms() -> None:
    secret = "pa\"ss\\wörd's"
    forms = migrate.encodings(secret)
    for text in (json.dumps(secret), json.dumps(secret, ensure_ascii=False), "'" + secret.replace("'", "''") + "'"):
        assert any(f in text for f in forms)
    nested = json.dumps({"raw": f"x = {json.dumps(secret)}"})
    assert any(f in nested for f in forms)
    assert migrate._scrub_text(nested, [secret]).count(migrate.SCRUBBED) == 1


def test_clients_own_backups_are_reported(
    machine: Machine, desktop: Path, app_paths: AppPaths, memory_store: MemoryStore
) -> None:
    _wrap(machine, "darwin", app_paths)
    (desktop.parent / (desktop.name + ".bak")).write_text(desktop.read_text(encoding="utf-8"), encoding="utf-8")
    plan = migrate.make_plan(_configs(machine, "darwin"), store=memory_store)
    migrate.apply(plan, memory_store, app_paths)
    assert migrate.foreign_copies(plan) == [
        (desktop.parent / (desktop.name + ".bak"), "github/GITHUB_PERSONAL_ACCESS_TOKEN")
    ]


def test_the_secret_is_named_after_the_wrapped_name(
    machine: Machine, desktop: Path, app_paths: AppPaths, memory_store: MemoryStore
) -> None:
    """The user renamed the entry after wrapping: the shim still runs with --name github."""
    _wrap(machine, "darwin", app_paths)
    desktop.write_text(desktop.read_text(encoding="utf-8").replace('"github": {', '"gh": {'), encoding="utf-8")
    plan = migrate.make_plan(_configs(machine, "darwin"), store=memory_store)
    assert [m.name for m in plan.moves] == ["github/GITHUB_PERSONAL_ACCESS_TOKEN"]


def test_name_based_secret_in_claude_code_project_servers(
    machine: Machine, app_paths: AppPaths, fake_backend: FakeBackend
) -> None:
    path = _place(
        machine,
        "claude.json",
        "home:.claude.json",
        {'"NOTES_DIR": "/home/ana/Notes"': f'"NOTES_DIR": "/home/ana/Notes",\n        "NOTES_PASSWORD": "{PASSWORD}"'},
    )
    _wrap(machine, "linux", app_paths)
    store = KeyringStore(str(app_paths.home), backend=fake_backend)
    plan = migrate.make_plan(_configs(machine, "linux"), client="claude-code", store=store)
    assert [(m.name, m.found.kind) for m in plan.moves] == [("notes/NOTES_PASSWORD", "name")]
    migrate.apply(plan, store, app_paths)
    text = path.read_text(encoding="utf-8")
    assert PASSWORD not in text
    assert '"env": {\n        "NOTES_DIR": "/home/ana/Notes"\n      }' in text
