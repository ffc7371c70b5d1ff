"""Screenshot of the Secrets page: ``python -m tests.gui.screens.secrets_view_screen``.

An in-memory store with the secrets a user would have moved out of their client configs; the page shows
names only, values masked.
"""

from __future__ import annotations

import os
import pathlib
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication  # noqa: E402

from mcpguard.gui.secrets_view import SecretsView  # noqa: E402
from mcpguard.secrets.memory import MemoryStore  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parents[3] / "docs" / "screenshots" / "secrets.png"


def render(path: pathlib.Path) -> None:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    store = MemoryStore()
    for name, value in {
        "github/GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_" + "x" * 36,
        "brave-search/BRAVE_API_KEY": "BSA" + "y" * 28,
        "slack/SLACK_BOT_TOKEN": "xoxb-" + "1" * 30,
        "slack/SLACK_TEAM_ID": "T0123456",
        "postgres/DATABASE_URL": "postgresql://app:secret@localhost/app",
    }.items():
        store.set(name, value)
    view = SecretsView(lambda: store)
    view.resize(900, 480)
    view.refresh()
    view.grab().save(str(path))


if __name__ == "__main__":
    render(OUT)
    print(f"saved {OUT}")
