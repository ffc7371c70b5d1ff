"""The AI clients page: what it shows of the configs on disk, and that Wrap and Unwrap really change them."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QLabel, QTreeWidgetItem
from pytestqt.qtbot import QtBot

from mcpguard.clients.discovery import discover
from mcpguard.clients.operations import Plan, make_plan
from mcpguard.gui.clients_view import DANGER, ClientsView, PlanDialog, display_path
from mcpguard.paths import AppPaths
from mcpguard.secrets.memory import MemoryStore
from tests.gui.client_machine import CLAUDE_DESKTOP, CURSOR, VSCODE, Machine, entry, make_machine

pytestmark = pytest.mark.gui

LAUNCHER = "/opt/mcpguard/bin/mcpguard"


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Machine:
    return make_machine(tmp_path, monkeypatch)


class Answers:
    """Stands in for the confirmation dialog: records each plan and answers with ``yes``."""

    def __init__(self, yes: bool = True) -> None:
        self.yes = yes
        self.plans: list[Plan] = []

    def __call__(self, plan: Plan) -> bool:
        self.plans.append(plan)
        return self.yes


def _view(
    qtbot: QtBot, paths: AppPaths, confirm: Callable[[Plan], bool] | None = None, *, launcher: bool = False
) -> ClientsView:
    view = ClientsView(paths, confirm=confirm or Answers(), platform="linux", launcher=[LAUNCHER] if launcher else None)
    qtbot.addWidget(view)
    view.refresh()
    return view


def _top(view: ClientsView) -> dict[str, QTreeWidgetItem]:
    rows = [view.tree.topLevelItem(i) for i in range(view.tree.topLevelItemCount())]
    return {row.text(0): row for row in rows if row is not None}


def _children(row: QTreeWidgetItem) -> dict[str, QTreeWidgetItem]:
    children = [row.child(i) for i in range(row.childCount())]
    return {child.text(0): child for child in children if child is not None}


def _select(view: ClientsView, client: str, server: str) -> QTreeWidgetItem:
    row = _children(_top(view)[client])[server]
    view.tree.setCurrentItem(row)
    return row


def test_clients_servers_transport_guarded_state_and_flags(qtbot: QtBot, machine: Machine, app_paths: AppPaths) -> None:
    desktop = machine.place("claude_desktop_config.json", CLAUDE_DESKTOP)
    machine.place("cursor_mcp.json", CURSOR)
    machine.place("vscode_mcp.json", VSCODE)
    view = _view(qtbot, app_paths)

    top = _top(view)
    assert list(top) == ["Claude Desktop", "Cursor", "VS Code"]  # the table's order
    assert top["Claude Desktop"].text(3) == str(desktop)  # XDG_CONFIG_HOME is not under HOME here
    assert top["Cursor"].text(3) == "~/.cursor/mcp.json"
    assert top["Cursor"].toolTip(3) == str(machine.path(CURSOR))
    assert top["Claude Desktop"].text(2) == "0 of 5"  # linear only bridges to a remote server

    servers = _children(top["Claude Desktop"])
    assert list(servers) == ["filesystem", "github", "sqlite", "weather", "linear", "memory"]
    sqlite = servers["sqlite"]
    assert [sqlite.text(c) for c in range(3)] == ["sqlite", "stdio", "no"]
    assert sqlite.text(3) == "uvx mcp-server-sqlite --db-path '/Users/zoë/test.db'"  # quoted as a shell needs
    assert "without a pinned version" in sqlite.text(4)
    assert (servers["linear"].text(1), servers["linear"].text(2)) == ("remote", "no")
    assert servers["linear"].text(3).startswith("https://mcp.linear.app/sse")
    assert servers["memory"].text(4) == ""  # pinned to an exact version: no flag

    cursor = _children(top["Cursor"])
    assert cursor["root-helper"].text(4).startswith("runs as another user, with sudo")
    assert cursor["root-helper"].foreground(4).color().name() == DANGER
    assert (cursor["remote-docs"].text(1), cursor["remote-docs"].text(3)) == ("remote", "https://docs.example.com/mcp")
    vscode = _children(top["VS Code"])
    assert (vscode["github"].text(1), vscode["no-args"].text(1)) == ("remote", "stdio")  # JSONC read
    assert "not guarded" in view.summary.text() and "3 AI clients" in view.summary.text()

    # Details: the whole command, its flags, the file.
    _select(view, "Cursor", "root-helper")
    details = view.details.toPlainText()
    assert "sudo -E /usr/local/bin/sys-mcp" in details
    assert "runs as another user" in details and "~/.cursor/mcp.json" in details
    assert view.wrap_button.isEnabled() and not view.unwrap_button.isEnabled()
    assert view.wrap_button.text() == "&Wrap 'root-helper'"
    assert view.wrap_all_button.text() == "Wrap a&ll of Cursor"
    _select(view, "Cursor", "remote-docs")
    assert not view.wrap_button.isEnabled() and "remote" in view.wrap_button.toolTip()
    view.refresh_button.click()  # read again: the selection stays
    current = view.tree.currentItem()
    assert current is not None and current.text(0) == "remote-docs"


def test_wrap_rewrites_the_file_and_unwrap_gives_back_the_bytes(
    qtbot: QtBot, machine: Machine, app_paths: AppPaths
) -> None:
    config = machine.place("claude_desktop_config.json", CLAUDE_DESKTOP)
    original = config.read_bytes()
    answers = Answers()
    view = _view(qtbot, app_paths, answers)

    _select(view, "Claude Desktop", "sqlite")
    with qtbot.waitSignal(view.changed, timeout=2000), qtbot.waitSignal(view.applied, timeout=2000) as applied:
        view.wrap_button.click()
    (plan,) = answers.plans
    assert plan.kind == "wrap" and [a.argv for a in plan.actions] == [
        ("uvx", "mcp-server-sqlite", "--db-path", "/Users/zoë/test.db")
    ]
    assert applied.args is not None and applied.args[0] == "wrap"
    wrapped = entry(config, "sqlite")
    assert Path(wrapped["command"]).name == "mcpguard" and Path(wrapped["command"]).is_absolute()
    assert wrapped["args"] == [
        "run", "--name", "sqlite", "--client", "claude-desktop", "--env-keys", "", "--",
        "uvx", "mcp-server-sqlite", "--db-path", "/Users/zoë/test.db",
    ]  # fmt: skip
    assert entry(config, "filesystem")["command"] == "npx"  # the others stay as they were
    assert _children(_top(view)["Claude Desktop"])["sqlite"].text(2) == "yes"
    assert view.message.text().startswith("Wrapped 'sqlite' of Claude Desktop; restart Claude Desktop")
    assert list((app_paths.home / "backups").glob("*claude_desktop_config.json"))

    row = _children(_top(view)["Claude Desktop"])["sqlite"]
    assert view.tree.currentItem() is row  # the selection survived the refresh
    assert view.unwrap_button.isEnabled() and not view.wrap_button.isEnabled()
    with qtbot.waitSignal(view.changed, timeout=2000):
        view.unwrap_button.click()
    assert answers.plans[-1].kind == "unwrap"
    assert config.read_bytes() == original
    assert view.message.text().startswith("Unwrapped 'sqlite' of Claude Desktop")


def test_cancel_writes_nothing(qtbot: QtBot, machine: Machine, app_paths: AppPaths) -> None:
    config = machine.place("cursor_mcp.json", CURSOR)
    original = config.read_bytes()
    answers = Answers(yes=False)
    view = _view(qtbot, app_paths, answers)
    view.tree.setCurrentItem(_top(view)["Cursor"])
    with qtbot.assertNotEmitted(view.changed):
        view.wrap_all_button.click()
    assert len(answers.plans) == 1 and len(answers.plans[0].actions) == 4  # every local server, not the remote one
    assert config.read_bytes() == original
    assert not (app_paths.home / "backups").exists()
    assert view.message.text() == "Nothing was changed; Cursor stays as it was."


def test_wrap_and_unwrap_all_of_a_client(qtbot: QtBot, machine: Machine, app_paths: AppPaths) -> None:
    config = machine.place("vscode_mcp.json", VSCODE)
    original = config.read_bytes()
    view = _view(qtbot, app_paths, launcher=True)
    view.tree.setCurrentItem(_top(view)["VS Code"])
    view.wrap_all_button.click()
    text = config.read_text(encoding="utf-8")
    assert text.count(LAUNCHER) == 3 and "// the version we audited" in text  # comments survive
    assert _top(view)["VS Code"].text(2) == "3 of 3"
    assert not view.wrap_all_button.isEnabled() and view.unwrap_all_button.isEnabled()
    assert view.message.text().startswith("Wrapped 3 servers of VS Code; restart VS Code")
    view.unwrap_all_button.click()
    assert config.read_bytes() == original


def test_a_config_that_does_not_parse_shows_where(qtbot: QtBot, machine: Machine, app_paths: AppPaths) -> None:
    config = machine.place("corrupt_claude_desktop_config.json", CLAUDE_DESKTOP)
    original = config.read_bytes()
    view = _view(qtbot, app_paths)
    client = _top(view)["Claude Desktop"]
    (row,) = _children(client).values()
    assert row.text(0).startswith(f"Cannot be read: {config} does not parse at line 5, column 7")
    assert row.isFirstColumnSpanned()
    view.tree.setCurrentItem(row)
    assert "line 5, column 7" in view.details.toPlainText()
    assert not view.wrap_all_button.isEnabled()
    assert "1 config cannot be read" in view.summary.text()
    # Even asked directly, the page refuses and says why in one sentence.
    assert not view.act_on_client("wrap", "claude-desktop")
    assert view.message.text() == f"Could not wrap Claude Desktop: {config} does not parse at line 5, column 7: " + (
        row.toolTip(0).split("column 7: ", 1)[1] + "."
    )
    assert config.read_bytes() == original


def test_a_failed_write_is_one_sentence_and_changes_nothing(
    qtbot: QtBot, machine: Machine, app_paths: AppPaths
) -> None:
    config = machine.place("cursor_mcp.json", CURSOR)
    edited: list[bytes] = []

    def meanwhile(plan: Plan) -> bool:
        """While the dialog is open, the user edits the very entry they were shown."""
        config.write_text(config.read_text().replace("/home/ana/mcp/server.py", "/tmp/other.py"))
        edited.append(config.read_bytes())
        return True

    view = _view(qtbot, app_paths, meanwhile)
    _select(view, "Cursor", "local-py")
    with qtbot.assertNotEmitted(view.changed):
        view.wrap_button.click()
    message = view.message.text()
    assert message == (
        f"Could not change ~/.cursor/mcp.json: the server 'local-py' in {config} changed since it was read; "
        "run the command again."
    )
    assert DANGER in view.message.styleSheet()
    assert config.read_bytes() == edited[0]  # the user's edit, and no wrap the user did not see


def test_nothing_to_do_is_said_plainly(qtbot: QtBot, machine: Machine, app_paths: AppPaths) -> None:
    machine.place("cursor_mcp.json", CURSOR)
    answers = Answers()
    view = _view(qtbot, app_paths, answers)
    (config,) = view.configs
    remote = next(s for s in config.servers if s.name == "remote-docs")
    assert not view.act_on_server("wrap", remote.key)
    assert answers.plans == []  # nothing to consent to
    assert view.message.text().startswith("Nothing to wrap in 'remote-docs' of Cursor: remote")


def test_plan_dialog_shows_each_command_whole_its_flags_and_the_diff(
    qtbot: QtBot, machine: Machine, app_paths: AppPaths
) -> None:
    config = machine.place("cursor_mcp.json", CURSOR)
    long_path = "/srv/" + "deep/" * 80 + "server.py"
    config.write_text(config.read_text().replace("/home/ana/mcp/server.py", long_path))
    plan = make_plan("wrap", discover(platform="linux"), launcher=[LAUNCHER])
    dialog = PlanDialog(plan)
    qtbot.addWidget(dialog)

    commands = dialog.commands.toPlainText()
    assert f"python3 {long_path}" in commands  # untruncated, however long
    assert "sudo -E /usr/local/bin/sys-mcp" in commands
    assert "DANGER" in commands and "runs as another user, with sudo" in commands
    assert "WARNING" in commands and "@stripe/mcp without a pinned version" in commands
    assert "API_KEY" in commands and "sk-test" not in commands  # names of variables, never values
    assert "remote-docs" in commands  # listed as left alone
    html = dialog.commands.toHtml()
    assert DANGER in html and "#b7791f" in html
    diff = dialog.diff_view.toPlainText()
    assert "--- ~/.cursor/mcp.json" in diff and "+++ ~/.cursor/mcp.json" in diff
    assert f'"command": "{LAUNCHER}"' in diff and '-            "command": "sudo",' in diff
    assert dialog.apply_button.text() == "&Wrap 4 servers"
    assert dialog.cancel_button.isDefault() and not dialog.apply_button.autoDefault()
    assert dialog.commands.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse


# WORKAROUND: the offscreen platform warns about any shown window with a layout.
@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
def test_enter_in_the_dialog_cancels(qtbot: QtBot, machine: Machine, app_paths: AppPaths) -> None:
    machine.place("cursor_mcp.json", CURSOR)
    dialog = PlanDialog(make_plan("wrap", discover(platform="linux"), launcher=[LAUNCHER]))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.cancel_button.isDefault()
    with qtbot.waitSignal(dialog.rejected, timeout=1000):
        qtbot.keyClick(dialog, Qt.Key.Key_Return)
    assert dialog.result() == QDialog.DialogCode.Rejected


def test_the_default_confirmation_is_the_dialog(
    qtbot: QtBot, machine: Machine, app_paths: AppPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = machine.place("cursor_mcp.json", CURSOR)
    original = config.read_bytes()
    shown: list[PlanDialog] = []

    def exec_(self: PlanDialog) -> int:
        shown.append(self)
        return int(QDialog.DialogCode.Rejected.value)

    monkeypatch.setattr(PlanDialog, "exec", exec_)
    view = ClientsView(app_paths, platform="linux")
    qtbot.addWidget(view)
    view.refresh()
    view.tree.setCurrentItem(_top(view)["Cursor"])
    view.wrap_all_button.click()
    assert len(shown) == 1 and shown[0].plan.kind == "wrap"
    assert config.read_bytes() == original


# WORKAROUND: the offscreen platform warns about any shown window with a layout; the screenshot must show one.
@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
def test_screenshot_renders(qtbot: QtBot, tmp_path: Path) -> None:
    from tests.gui.screens.clients_view_screen import render, render_remote_dialog

    out = tmp_path / "clients.png"
    render(out)
    assert out.read_bytes().startswith(b"\x89PNG")
    remote = tmp_path / "clients-remote-wrap.png"
    render_remote_dialog(remote)
    assert remote.read_bytes().startswith(b"\x89PNG")


@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
def test_signin_screenshots_render(qtbot: QtBot, tmp_path: Path) -> None:
    from tests.gui.screens.clients_signin_screen import render

    selected, done = tmp_path / "clients-signin.png", tmp_path / "clients-signin-done.png"
    render(selected, done)  # raises unless the sign-in ended with login's line on the page
    assert selected.read_bytes().startswith(b"\x89PNG") and done.read_bytes().startswith(b"\x89PNG")


def test_paths_under_home_are_written_with_a_tilde() -> None:
    env = {"HOME": "/home/ana"}
    assert display_path("/home/ana/.cursor/mcp.json", env) == "~/.cursor/mcp.json"
    assert display_path("/home/anabel/.cursor/mcp.json", env) == "/home/anabel/.cursor/mcp.json"
    assert display_path(Path("/etc/mcp.json"), env) == "/etc/mcp.json"


# -- remote servers: opt-in, mcpguard becomes their bridge --------------------------------------------

GOOSE = "xdg:goose/config.yaml"
TAVILY_KEY = "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"


def _goose(machine: Machine) -> Path:
    config = machine.place("remote_goose.yaml", GOOSE)
    config.write_text(config.read_text(encoding="utf-8").replace("<tavily-key>", TAVILY_KEY), encoding="utf-8")
    return config


def test_a_remote_server_is_wrapped_only_when_asked_and_unwrapped_exactly(
    qtbot: QtBot, machine: Machine, app_paths: AppPaths
) -> None:
    config = _goose(machine)
    original = config.read_bytes()
    answers = Answers()
    secrets = MemoryStore()
    view = ClientsView(app_paths, confirm=answers, platform="linux", launcher=[LAUNCHER], secrets=secrets)
    qtbot.addWidget(view)
    view.refresh()

    row = _select(view, "Goose", "tavily")
    assert (row.text(1), row.text(2)) == ("remote", "no")
    assert not view.remote_box.isChecked()  # opt-in, as `mcpguard wrap --remote` is
    assert not view.wrap_button.isEnabled() and "Also guard remote servers" in view.wrap_button.toolTip()
    assert "unless it becomes the bridge" in view.details.toPlainText()

    view.remote_box.setChecked(True)
    assert view.wrap_button.isEnabled() and "mcpguard remote" in view.wrap_button.toolTip()
    assert "Wrap makes mcpguard its bridge" in view.details.toPlainText()
    with qtbot.waitSignal(view.changed, timeout=2000):
        view.wrap_button.click()
    (plan,) = answers.plans
    (action,) = plan.actions
    assert action.remote is not None and action.remote.keyring_headers == ("Authorization",)
    assert action.argv[:3] == (LAUNCHER, "remote", "https://mcp.tavily.com/mcp/")
    assert secrets.get("remote/tavily/HEADER_Authorization") == f"Bearer {TAVILY_KEY}"
    text = config.read_text(encoding="utf-8")
    assert TAVILY_KEY not in text and f"cmd: {LAUNCHER}" in text
    assert "Authorization=@keyring:remote/tavily/HEADER_Authorization" in text

    row = _children(_top(view)["Goose"])["tavily"]
    assert view.tree.currentItem() is row
    assert (row.text(1), row.text(2), row.text(3)) == ("remote", "yes", "https://mcp.tavily.com/mcp/")
    details = view.details.toPlainText()
    assert "guarded: its client reaches it through mcpguard remote" in details
    assert "@keyring:remote/tavily/HEADER_Authorization" in details and TAVILY_KEY not in details
    assert view.unwrap_button.isEnabled() and not view.wrap_button.isEnabled()
    assert view.message.text().startswith("Wrapped 'tavily' of Goose; restart Goose")

    view.remote_box.setChecked(False)  # unwrapping never needs the box
    with qtbot.waitSignal(view.changed, timeout=2000):
        view.unwrap_button.click()
    assert config.read_bytes() == original


def test_wrap_all_takes_the_remote_servers_along_only_when_ticked(
    qtbot: QtBot, machine: Machine, app_paths: AppPaths
) -> None:
    config = _goose(machine)
    original = config.read_bytes()
    answers = Answers(yes=False)
    view = ClientsView(app_paths, confirm=answers, platform="linux", launcher=[LAUNCHER], secrets=MemoryStore())
    qtbot.addWidget(view)
    view.refresh()
    view.tree.setCurrentItem(_top(view)["Goose"])
    assert not view.wrap_all_button.isEnabled()  # its only local server bridges to a remote one
    assert "reached directly, not guarded" in view.details.toPlainText()
    view.remote_box.setChecked(True)
    assert view.wrap_all_button.isEnabled() and "remote ones too" in view.wrap_all_button.toolTip()
    assert "moves to the keyring" in view.details.toPlainText()
    view.wrap_all_button.click()
    (plan,) = answers.plans
    assert {a.server.name for a in plan.actions} == {"tavily", "context7", "github-remote"}
    assert config.read_bytes() == original  # the answer was no


def test_plan_dialog_names_the_headers_that_go_to_the_keyring_never_their_values(
    qtbot: QtBot, machine: Machine, app_paths: AppPaths
) -> None:
    _goose(machine)
    plan = make_plan("wrap", discover(platform="linux"), launcher=[LAUNCHER], secrets=MemoryStore(), remote=True)
    dialog = PlanDialog(plan)
    qtbot.addWidget(dialog)
    commands = dialog.commands.toPlainText()
    assert "Reached at https://mcp.tavily.com/mcp/ through mcpguard remote" in commands
    assert "Moved to the keyring: the value of Authorization" in commands
    assert "Passed on the command line as they are: X-Client" in commands
    assert f"{LAUNCHER} remote https://mcp.tavily.com/mcp/ --name tavily --client goose" in commands
    diff = dialog.diff_view.toPlainText()
    assert "<secret, kept in the keyring>" in diff
    assert TAVILY_KEY not in commands and TAVILY_KEY not in diff
    intro = " ".join(label.text() for label in dialog.findChildren(QLabel))
    assert f"reaches each server through <code>{LAUNCHER} remote</code>: mcpguard becomes its bridge" in intro


def test_literal_tokens_are_hidden_on_the_page_and_in_the_plan(
    qtbot: QtBot, machine: Machine, app_paths: AppPaths
) -> None:
    import jwt

    tokens = {
        "<issues-jwt>": jwt.encode({"aud": "https://issues.acme.dev/mcp"}, "test-signing-key-long-enough-for-hs256"),
        "<search-api-key>": "Zq8vN3rT6yW1pL4kX9cB2mJ7",
        "<search-token>": "ghp_" + "A1b2C3d4E5" * 3 + "F6g7H8",
    }
    config = machine.place("tokens_mcp.json", CURSOR)
    text = config.read_text(encoding="utf-8")
    for placeholder, value in tokens.items():
        text = text.replace(placeholder, value)
    config.write_text(text, encoding="utf-8")
    view = _view(qtbot, app_paths)

    row = _select(view, "Cursor", "search")
    assert row.text(3) == "acme-search --endpoint https://search.acme.dev --api-key '[hidden: token]' --verbose"
    shown = [view.details.toHtml(), view.details.toPlainText(), row.text(3), row.toolTip(3)]
    assert "Command (exactly what runs)" in shown[1] and "[hidden: token]" in shown[1]
    _select(view, "Cursor", "issues")
    shown += [view.details.toHtml(), view.details.toPlainText()]

    plan = make_plan("wrap", discover(platform="linux"), launcher=[LAUNCHER])
    dialog = PlanDialog(plan)
    qtbot.addWidget(dialog)
    shown += [dialog.commands.toHtml(), dialog.diff_view.toHtml(), dialog.diff_view.toPlainText()]
    assert "--api-key '[hidden: token]' --verbose" in dialog.commands.toPlainText()
    assert '"SEARCH_TOKEN": "[hidden: token]"' in dialog.diff_view.toPlainText()
    assert all(token not in page for token in tokens.values() for page in shown)


# -- signing in to a wrapped remote server ------------------------------------------------------------

SIGNIN_CURSOR = {
    "mcpServers": {
        "docs": {
            "command": LAUNCHER,
            "args": ["remote", "https://docs.example.com/mcp", "--name", "docs", "--client", "cursor"],
        },
        "linear": {"url": "https://mcp.linear.app/mcp"},
        "notes": {"command": LAUNCHER, "args": ["run", "--name", "notes", "--client", "cursor", "--", "notes-mcp"]},
        "fetch": {"command": "uvx", "args": ["mcp-server-fetch==2025.4.7"]},
    }
}

FAKE_LOGIN = """\
import json, os, pathlib, sys, time
AUTHORIZE = "https://auth.example.com/authorize?response_type=code&state=x1"
folder = pathlib.Path(sys.argv[1])
(folder / "argv.json").write_text(json.dumps({"argv": sys.argv[2:], "home": os.environ.get("MCPGUARD_HOME")}))
if (folder / "no-browser").exists():
    print("mcpguard: no browser could be opened; open this address to sign in to docs: " + AUTHORIZE, file=sys.stderr)
    sys.stderr.flush()
deadline = time.monotonic() + 10
while not (folder / "go").exists() and time.monotonic() < deadline:
    time.sleep(0.02)
print("mcpguard: docs: with the options of its entry in cursor", file=sys.stderr)
if (folder / "fail").exists():
    print("mcpguard: sign in to docs at docs.example.com in your browser", file=sys.stderr)
    print("mcpguard: the authorization server refused ghp_A1b2C3d4E5A1b2C3d4E5A1b2C3d4E5F6g7H8", file=sys.stderr)
    sys.exit(1)
print("Signed in to docs at docs.example.com; the token is in the keyring.")
"""


class FakeLogin:
    """A stand-in for ``python -m mcpguard``: records its arguments, waits for ``go``, prints login's outcome."""

    def __init__(self, folder: Path, *, fail: bool = False, wait: bool = False) -> None:
        folder.mkdir()
        self.folder = folder
        script = folder / "fake_login.py"
        script.write_text(FAKE_LOGIN, encoding="utf-8")
        self.command = [sys.executable, str(script), str(folder)]
        if fail:
            (folder / "fail").touch()
        if not wait:
            self.go()

    def go(self) -> None:
        (self.folder / "go").touch()

    def seen(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.folder / "argv.json").read_text(encoding="utf-8"))
        return data


def _signin_view(qtbot: QtBot, machine: Machine, app_paths: AppPaths, login: FakeLogin) -> ClientsView:
    config = machine.path(CURSOR)
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps(SIGNIN_CURSOR, indent=2), encoding="utf-8")
    view = ClientsView(app_paths, confirm=Answers(), platform="linux", launcher=[LAUNCHER], login_command=login.command)
    qtbot.addWidget(view)
    view.refresh()
    return view


def test_sign_in_is_offered_only_for_a_wrapped_remote_server(
    qtbot: QtBot, machine: Machine, app_paths: AppPaths, tmp_path: Path
) -> None:
    view = _signin_view(qtbot, machine, app_paths, FakeLogin(tmp_path / "login"))
    assert not view.signin_button.isEnabled()  # nothing selected
    enabled = {}
    for name in ("docs", "linear", "notes", "fetch"):
        _select(view, "Cursor", name)
        enabled[name] = view.signin_button.isEnabled()
    assert enabled == {"docs": True, "linear": False, "notes": False, "fetch": False}
    _select(view, "Cursor", "docs")
    assert "mcpguard remote login" in view.signin_button.toolTip()
    assert "Sign in… does it now, in your browser" in view.details.toPlainText()
    _select(view, "Cursor", "linear")
    assert "Only a remote server mcpguard bridges" in view.signin_button.toolTip()
    view.tree.setCurrentItem(_top(view)["Cursor"])
    assert not view.signin_button.isEnabled()


def test_sign_in_runs_login_for_the_entry_without_blocking_and_shows_its_line(
    qtbot: QtBot, machine: Machine, app_paths: AppPaths, tmp_path: Path
) -> None:
    login = FakeLogin(tmp_path / "login", wait=True)
    view = _signin_view(qtbot, machine, app_paths, login)
    _select(view, "Cursor", "docs")
    docs = view._selected_server()
    assert docs is not None
    expected = [*login.command, "remote", "login", "docs", "--client", "cursor"]
    assert view.login_argv(docs.key) == expected

    view.signin_button.click()  # returns at once: the login waits for "go"
    assert view.signing_in and not view.signin_button.isEnabled()
    assert view.message.text() == "Signing in to docs: finish in your browser."
    assert "under way" in view.signin_button.toolTip()
    assert not view.sign_in(docs.key)  # a second click does nothing
    _select(view, "Cursor", "linear")
    _select(view, "Cursor", "docs")
    assert not view.signin_button.isEnabled()  # still under way, whatever is selected

    with qtbot.waitSignal(view.signin_finished, timeout=10000) as finished:
        login.go()
    assert finished.args == ["docs", True]
    assert login.seen() == {"argv": expected[len(login.command) :], "home": str(app_paths.home)}
    assert view.message.text() == "Signed in to docs at docs.example.com; the token is in the keyring."
    assert DANGER not in view.message.styleSheet()
    assert not view.signing_in and view.signin_button.isEnabled()


def test_a_failed_sign_in_shows_why_in_the_error_colour(
    qtbot: QtBot, machine: Machine, app_paths: AppPaths, tmp_path: Path
) -> None:
    login = FakeLogin(tmp_path / "login", fail=True)
    view = _signin_view(qtbot, machine, app_paths, login)
    _select(view, "Cursor", "docs")
    with qtbot.waitSignal(view.signin_finished, timeout=10000) as finished:
        view.signin_button.click()
    assert finished.args == ["docs", False]
    text = view.message.text()
    assert text == "Not signed in to docs: the authorization server refused [hidden: token]."  # its last line
    assert "ghp_" not in text, "a token-shaped value is hidden even if login printed one"
    assert DANGER in view.message.styleSheet()
    assert view.signin_button.isEnabled()  # another try is possible


def test_an_address_to_open_by_hand_is_shown_while_login_waits(
    qtbot: QtBot, machine: Machine, app_paths: AppPaths, tmp_path: Path
) -> None:
    login = FakeLogin(tmp_path / "login", wait=True)
    (login.folder / "no-browser").touch()
    view = _signin_view(qtbot, machine, app_paths, login)
    _select(view, "Cursor", "docs")
    view.signin_button.click()
    qtbot.waitUntil(lambda: view.message.text().startswith("No browser could be opened"), timeout=10000)
    address = "https://auth.example.com/authorize?response_type=code&state=x1"
    assert view.message.text().endswith(f"to sign in to docs: {address}"), "no full stop after it: it is copied"
    assert DANGER in view.message.styleSheet()
    assert view.signing_in
    with qtbot.waitSignal(view.signin_finished, timeout=10000):
        login.go()
    assert view.message.text().startswith("Signed in to docs")


def test_a_login_that_cannot_start_is_said(qtbot: QtBot, machine: Machine, app_paths: AppPaths, tmp_path: Path) -> None:
    login = FakeLogin(tmp_path / "login")
    login.command = [str(tmp_path / "no-such-python")]
    view = _signin_view(qtbot, machine, app_paths, login)
    _select(view, "Cursor", "docs")
    with qtbot.waitSignal(view.signin_finished, timeout=10000):
        view.signin_button.click()
    assert view.message.text().startswith("Not signed in to docs: mcpguard could not be started (")
    assert DANGER in view.message.styleSheet() and view.signin_button.isEnabled()


@pytest.mark.integration
def test_sign_in_with_the_real_login_against_an_oauth_server(
    qtbot: QtBot, machine: Machine, app_paths: AppPaths, oauth_server: str, signin_environ: dict[str, str]
) -> None:
    from mcpguard.clients.entries import remote_wrapped_argv, shim_launcher

    command, args = remote_wrapped_argv(shim_launcher(), "cursor", "secured", oauth_server, ["X-Team=platform"])
    config = machine.path(CURSOR)
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps({"mcpServers": {"secured": {"command": command, "args": args}}}), encoding="utf-8")
    view = ClientsView(app_paths, confirm=Answers(), platform="linux")
    qtbot.addWidget(view)
    view.refresh()
    _select(view, "Cursor", "secured")

    with qtbot.waitSignal(view.signin_finished, timeout=60000) as finished:
        view.signin_button.click()
    assert finished.args == ["secured", True], view.message.text()
    assert view.message.text() == "Signed in to secured at 127.0.0.1; the token is in the keyring."
    browser_log = Path(signin_environ["FAKE_BROWSER_LOG"])
    assert len(browser_log.read_text().splitlines()) == 1
    keyring = json.loads(Path(signin_environ["FILE_KEYRING_PATH"]).read_text())
    tokens = json.loads(next(v for k, v in keyring.items() if k.endswith("remote/secured/OAUTH_TOKENS")))
    assert tokens["access_token"] not in view.message.text() + view.details.toHtml()

    with qtbot.waitSignal(view.signin_finished, timeout=60000):
        view.signin_button.click()
    assert view.message.text() == "Already signed in to secured at 127.0.0.1: the token in the keyring works."
    assert len(browser_log.read_text().splitlines()) == 1
