"""What the screenshot scripts share: a throw-away profile to draw over, and saving the picture."""

from __future__ import annotations

import os
import pathlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QWidget

from mcpguard.paths import HOME_ENV, AppPaths
from mcpguard.pinning.store import Store


@contextmanager
def temporary_profile() -> Iterator[Store]:
    """A throw-away profile; ``MCPGUARD_HOME`` points at it meanwhile, so nothing reads the real one."""
    with tempfile.TemporaryDirectory(prefix="mcpguard-screen-") as tmp:
        before = os.environ.get(HOME_ENV)
        os.environ[HOME_ENV] = tmp
        store = Store.open(AppPaths.under(tmp))
        try:
            yield store
        finally:
            store.close()
            if before is None:
                os.environ.pop(HOME_ENV, None)
            else:
                os.environ[HOME_ENV] = before


def save_grab(app: QCoreApplication, widget: QWidget, path: pathlib.Path) -> None:
    """Save a grab of ``widget``, laid out and painted, to ``path``; then close it and let it go."""
    app.processEvents()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not widget.grab().save(str(path)):
        raise OSError(f"could not save {path}")
    widget.close()
    widget.deleteLater()
    app.processEvents()
