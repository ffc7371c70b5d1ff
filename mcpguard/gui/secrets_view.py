"""The Secrets page: which secrets each server gets from the keyring, and setting or deleting them.

Values are never shown, not even on request: the page lists names, masked placeholders and the
keyring they live in. A new value is typed into a password field and goes straight to the store.
Nothing here reads a server's secret value back.

The keyring is asked when the page is first shown, not when the window is built (finding it costs
100-200 ms). Without a usable keyring the page says what to install or unlock, in a banner, and its
buttons are off: mcpguard never keeps a secret anywhere else.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mcpguard.errors import McpGuardError
from mcpguard.secrets.base import SecretStore
from mcpguard.secrets.integrity import INTEGRITY_KEY_NAME
from mcpguard.secrets.names import is_internal, is_variable_name, secret_name, split_name

MASK = "••••••••"
"""What the page shows in place of every value."""


class SecretDialog(QDialog):
    """Server, variable and value (a password field) of a secret to store."""

    def __init__(
        self, servers: list[str], parent: QWidget | None = None, *, server: str = "", variable: str = ""
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Set a secret")
        self.server = QComboBox()
        self.server.setEditable(True)
        self.server.addItems(servers)
        self.server.setCurrentText(server)
        self.variable = QLineEdit(variable)
        self.variable.setPlaceholderText("GITHUB_TOKEN")
        self.value = QLineEdit()
        self.value.setEchoMode(QLineEdit.EchoMode.Password)
        self.value.setPlaceholderText("the value; it is never shown again")
        self.error = QLabel()
        self.error.setStyleSheet("color: #c53030")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._on_accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("&Server (its name in the client config):", self.server)
        form.addRow("&Variable:", self.variable)
        form.addRow("V&alue:", self.value)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def name(self) -> str:
        """``SERVER/VAR`` as typed (checked when accepted)."""
        return f"{self.server.currentText().strip()}/{self.variable.text().strip()}"

    def _on_accept(self) -> None:
        variable = self.variable.text().strip()
        if not self.server.currentText().strip():
            self.error.setText("Name the server.")
        elif not is_variable_name(variable):
            self.error.setText("The variable is letters, digits and _, not starting with a digit.")
        elif not self.value.text():
            self.error.setText("Type the value.")
        else:
            self.accept()


class SecretsView(QWidget):
    """Secret names per server, masked; set and delete; a banner when no keyring can be used."""

    changed = Signal()
    """A secret was stored or deleted."""

    def __init__(self, store: Callable[[], SecretStore], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._open_store = store
        self._store: SecretStore | None = None
        self.confirm: Callable[[str], bool] = self._confirm
        """Asks whether to delete (tests replace it)."""
        self.edit: Callable[[SecretDialog], bool] = lambda dialog: dialog.exec() == QDialog.DialogCode.Accepted
        """Runs the set dialog (tests replace it)."""
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.setStyleSheet("background: #fff4e5; border: 1px solid #f0b429; padding: 8px")
        self.banner.hide()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Server / variable", "Value"])
        self.tree.setRootIsDecorated(True)
        self.tree.currentItemChanged.connect(self._update_buttons)
        self.set_button = QPushButton("&Set…")
        self.set_button.clicked.connect(self.set_secret)
        self.delete_button = QPushButton("&Delete…")
        self.delete_button.clicked.connect(self.delete_secret)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.set_button)
        buttons.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree, 1)
        layout.addLayout(buttons)
        self._loaded = False
        self._update_buttons()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if not self._loaded:
            self.refresh()

    def _available_store(self) -> SecretStore | None:
        """The store, or None with the banner saying what to install or unlock."""
        try:
            store = self._store if self._store is not None else self._open_store()
            self._store = store
            where = store.description
            store.get(INTEGRITY_KEY_NAME)  # a locked keyring refuses here, not on the first save
        except McpGuardError as exc:
            self.banner.setText(f"<b>Secrets cannot be kept:</b> {exc}")
            self.banner.show()
            return None
        self.banner.hide()
        self.summary.setText(
            f"Secrets live in {where}. Each server gets its own as environment variables when mcpguard starts it; "
            "values are never shown here and are scrubbed from the activity log."
        )
        return store

    def refresh(self) -> None:
        """List the stored names by server (never a value)."""
        self._loaded = True
        self.tree.clear()
        store = self._available_store()
        self.set_button.setEnabled(store is not None)
        if store is None:
            self.summary.setText("")
            self._update_buttons()
            return
        per_server: dict[str, list[str]] = {}
        for name in store.names():
            if is_internal(name):
                continue
            server, variable = split_name(name)
            per_server.setdefault(server, []).append(variable)
        for server in sorted(per_server):
            top = QTreeWidgetItem([server, ""])
            for variable in sorted(per_server[server]):
                child = QTreeWidgetItem([variable, MASK])
                child.setData(0, Qt.ItemDataRole.UserRole, secret_name(server, variable))
                top.addChild(child)
            self.tree.addTopLevelItem(top)
            top.setExpanded(True)
        self.tree.resizeColumnToContents(0)
        self.tree.setColumnWidth(0, max(self.tree.columnWidth(0) + 24, 220))
        if not per_server:
            self.summary.setText(
                self.summary.text() + " No secrets yet: add one here, or move the plaintext ones out of your client "
                "configs with `mcpguard secrets migrate`."
            )
        self._update_buttons()

    def servers(self) -> list[str]:
        """The servers listed (the set dialog offers them)."""
        items = (self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount()))
        return [item.text(0) for item in items if item is not None]

    def selected_name(self) -> str | None:
        """``SERVER/VAR`` of the selected secret, if a secret (not a server) is selected."""
        item = self.tree.currentItem()
        if item is None:
            return None
        name = item.data(0, Qt.ItemDataRole.UserRole)
        return name if isinstance(name, str) else None

    def _update_buttons(self, *_: object) -> None:
        self.delete_button.setEnabled(self._store is not None and self.selected_name() is not None)

    def set_secret(self) -> None:
        """Ask for server, variable and value, and store the value."""
        store = self._available_store()
        if store is None:
            return
        selected = self.selected_name()
        item = self.tree.currentItem()
        server = split_name(selected)[0] if selected else (item.text(0) if item is not None else "")
        dialog = SecretDialog(self.servers(), self, server=server)
        if not self.edit(dialog):
            return
        name = dialog.name()
        value = dialog.value.text()
        dialog.value.clear()
        try:
            store.set(name, value)
        except (McpGuardError, ValueError) as exc:
            QMessageBox.warning(self, "mcpguard", f"{name} was not stored: {exc}")
            return
        finally:
            del value
        self.refresh()
        self.changed.emit()

    def delete_secret(self) -> None:
        """Delete the selected secret from the keyring, after a confirmation."""
        name = self.selected_name()
        store = self._available_store()
        if name is None or store is None:
            return
        server, variable = split_name(name)
        if not self.confirm(
            f"Delete {name} from the keyring? From its next start, {server} no longer gets {variable}."
        ):
            return
        try:
            store.delete(name)
        except McpGuardError as exc:
            QMessageBox.warning(self, "mcpguard", f"{name} was not deleted: {exc}")
            return
        self.refresh()
        self.changed.emit()

    def _confirm(self, question: str) -> bool:
        answer = QMessageBox.question(
            self,
            "Delete secret",
            question,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes
