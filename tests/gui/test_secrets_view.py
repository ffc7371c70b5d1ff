"""The Secrets page over a MemoryStore: names by server and masked, set, delete, and the no-keyring banner."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTreeWidgetItem
from pytestqt.qtbot import QtBot

from mcpguard.gui.secrets_view import MASK, SecretDialog, SecretsView
from mcpguard.secrets.base import SecretsUnavailable
from mcpguard.secrets.integrity import INTEGRITY_KEY_NAME
from mcpguard.secrets.memory import MemoryStore

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support")  # offscreen: any shown window

TOKEN = "ghp_" + "A1b2C3d4E5" * 3 + "F6g7H8"


def _view(qtbot: QtBot, store: MemoryStore) -> SecretsView:
    view = SecretsView(lambda: store)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    return view


def _rows(view: SecretsView) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for i in range(view.tree.topLevelItemCount()):
        top = view.tree.topLevelItem(i)
        assert top is not None
        children = [top.child(j) for j in range(top.childCount())]
        out[top.text(0)] = [(c.text(0), c.text(1)) for c in children if c is not None]
    return out


def _select(view: SecretsView, server: str, variable: str) -> None:
    for item in view.tree.findItems(variable, Qt.MatchFlag.MatchExactly | Qt.MatchFlag.MatchRecursive, 0):
        parent = item.parent()
        if isinstance(parent, QTreeWidgetItem) and parent.text(0) == server:
            view.tree.setCurrentItem(item)
            return
    raise AssertionError(f"{server}/{variable} is not listed")


def _all_text(view: SecretsView) -> str:
    items = view.tree.findItems("*", Qt.MatchFlag.MatchWildcard | Qt.MatchFlag.MatchRecursive, 0)
    return " ".join(f"{i.text(0)} {i.text(1)}" for i in items) + view.summary.text() + view.banner.text()


def test_names_by_server_masked_never_values(qtbot: QtBot) -> None:
    store = MemoryStore({"github/GITHUB_TOKEN": TOKEN, "github/OTHER": "x" * 8, "db/PASSWORD": "hunter22",
                         INTEGRITY_KEY_NAME: "ab" * 32})  # fmt: skip
    view = _view(qtbot, store)
    assert _rows(view) == {"db": [("PASSWORD", MASK)], "github": [("GITHUB_TOKEN", MASK), ("OTHER", MASK)]}
    assert TOKEN not in _all_text(view) and "hunter22" not in _all_text(view)
    assert not view.banner.isVisible()
    assert "memory (tests)" in view.summary.text()


def test_set_stores_the_typed_value(qtbot: QtBot) -> None:
    store = MemoryStore({"github/GITHUB_TOKEN": TOKEN})
    view = _view(qtbot, store)
    _select(view, "github", "GITHUB_TOKEN")
    seen: list[SecretDialog] = []

    def fill(dialog: SecretDialog) -> bool:
        seen.append(dialog)
        assert dialog.server.currentText() == "github"  # the selection's server is offered
        assert dialog.value.echoMode() == dialog.value.EchoMode.Password
        dialog.variable.setText("NEW_KEY")
        dialog.value.setText("s3cret-value")
        dialog.buttons.accepted.emit()
        return dialog.result() == dialog.DialogCode.Accepted

    view.edit = fill
    with qtbot.waitSignal(view.changed, timeout=2000):
        view.set_button.click()
    assert store.get("github/NEW_KEY") == "s3cret-value"
    assert seen[0].value.text() == ""  # not kept in the widget
    assert ("NEW_KEY", MASK) in _rows(view)["github"]


def test_the_set_dialog_refuses_a_bad_variable_name(qtbot: QtBot) -> None:
    dialog = SecretDialog(["github"], server="github", variable="1-bad")
    qtbot.addWidget(dialog)
    dialog.value.setText("v")
    dialog.buttons.accepted.emit()
    assert dialog.result() != dialog.DialogCode.Accepted
    assert "letters, digits" in dialog.error.text()


def test_delete_asks_first(qtbot: QtBot) -> None:
    store = MemoryStore({"github/GITHUB_TOKEN": TOKEN, "db/PASSWORD": "hunter22"})
    view = _view(qtbot, store)
    _select(view, "github", "GITHUB_TOKEN")
    questions: list[str] = []

    def say_no(question: str) -> bool:
        questions.append(question)
        return False

    view.confirm = say_no
    view.delete_button.click()
    assert store.get("github/GITHUB_TOKEN") == TOKEN
    assert questions and "Delete github/GITHUB_TOKEN from the keyring?" in questions[0]
    view.confirm = lambda question: True
    with qtbot.waitSignal(view.changed, timeout=2000):
        view.delete_button.click()
    assert store.get("github/GITHUB_TOKEN") is None
    assert _rows(view) == {"db": [("PASSWORD", MASK)]}


def test_a_server_row_is_not_deletable(qtbot: QtBot) -> None:
    view = _view(qtbot, MemoryStore({"github/GITHUB_TOKEN": TOKEN}))
    top = view.tree.topLevelItem(0)
    assert top is not None
    view.tree.setCurrentItem(top)
    assert not view.delete_button.isEnabled()


@pytest.mark.parametrize(
    "reason", ["no OS keyring is available; install gnome-keyring", "the keyring is locked; unlock it"]
)
def test_without_a_keyring_a_banner_says_what_to_do(qtbot: QtBot, reason: str) -> None:
    store = MemoryStore({"github/GITHUB_TOKEN": TOKEN})
    store.unavailable = SecretsUnavailable(reason)
    view = _view(qtbot, store)
    assert view.banner.isVisible()
    assert reason in view.banner.text()
    assert not view.set_button.isEnabled() and not view.delete_button.isEnabled()
    assert view.tree.topLevelItemCount() == 0


def test_the_keyring_is_asked_only_when_the_page_is_shown(qtbot: QtBot) -> None:
    opened: list[int] = []

    def open_store() -> MemoryStore:
        opened.append(1)
        return MemoryStore()

    view = SecretsView(open_store)
    qtbot.addWidget(view)
    assert opened == []
    view.show()
    qtbot.waitExposed(view)
    assert opened == [1]


def test_the_main_window_has_the_page(qtbot: QtBot) -> None:
    from mcpguard.gui.bridge import StoreBridge
    from mcpguard.gui.main_window import MainWindow
    from mcpguard.paths import AppPaths
    from mcpguard.pinning.store import Store

    paths = AppPaths.from_env()
    store = Store.open(paths)
    memory = MemoryStore({"github/GITHUB_TOKEN": TOKEN})
    window = MainWindow(store, StoreBridge(store), paths=paths, secrets=lambda: memory)
    qtbot.addWidget(window)
    window.show_page("secrets")
    qtbot.waitExposed(window)
    assert window.tabs.currentWidget() is window.secrets
    assert _rows(window.secrets) == {"github": [("GITHUB_TOKEN", MASK)]}
    window.hide()
    store.close()
