"""A crash report the user can read and copy, instead of a tray icon that silently vanishes."""

from __future__ import annotations

import logging
import platform
import sys
import traceback
from types import TracebackType

from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from mcpguard import __version__

log = logging.getLogger(__name__)


def report_text(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> str:
    """Everything a bug report needs, and nothing private (no pins, no arguments)."""
    from PySide6 import __version__ as pyside_version

    lines = [
        f"mcpguard {__version__}, Python {platform.python_version()}, PySide6 {pyside_version}",
        f"{platform.system()} {platform.release()} ({platform.machine()})",
        "",
        *traceback.format_exception(exc_type, exc, tb),
    ]
    return "\n".join(line.rstrip("\n") for line in lines)


class CrashDialog(QDialog):
    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("mcpguard hit an error")
        self.resize(720, 420)
        intro = QLabel(
            "mcpguard hit an unexpected error. Your servers stay guarded: the shims do not depend on this "
            "window. Please copy the report below into a bug report."
        )
        intro.setWordWrap(True)
        self.text = QPlainTextEdit(text)
        self.text.setReadOnly(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = buttons.addButton("&Copy report", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(self._on_copy_clicked)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)

    def _on_copy_clicked(self) -> None:
        QGuiApplication.clipboard().setText(self.text.toPlainText())


def install_excepthook() -> None:
    """Log every uncaught exception and show it, rather than letting Qt abort the process."""

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        text = report_text(exc_type, exc, tb)
        log.error("uncaught exception\n%s", text)
        CrashDialog(text).exec()

    sys.excepthook = hook
