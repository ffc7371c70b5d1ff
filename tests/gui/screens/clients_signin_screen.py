"""Screenshots of signing in from the AI clients page: ``python -m tests.gui.screens.clients_signin_screen
[selected.png [done.png]]``.

The fake home of :mod:`tests.gui.screens.clients_view_screen`, except that Cursor's remote server
``linear`` is wrapped (its entry starts ``mcpguard remote https://mcp.linear.app/mcp --name linear``).
The first picture shows it selected with "Sign in…" enabled; the second the page after a sign-in
ended. No browser opens and nothing is signed in to: the login the page starts is replaced by a
one-line program that prints what ``mcpguard remote login`` prints on success.
"""

from __future__ import annotations

import os
import pathlib
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402

from mcpguard.gui.clients_view import ClientsView  # noqa: E402
from tests.gui.screens.clients_view_screen import LAUNCHER, SCREENSHOTS, _app, _machine, _save  # noqa: E402

OUT = SCREENSHOTS / "clients-signin.png"
DONE_OUT = SCREENSHOTS / "clients-signin-done.png"

CURSOR = f"""{{
    "mcpServers": {{
        "linear": {{
            "command": "{LAUNCHER}",
            "args": ["remote", "https://mcp.linear.app/mcp", "--name", "linear", "--client", "cursor"]
        }},
        "browser-tools": {{
            "command": "npx",
            "args": ["-y", "@agentdeskai/browser-tools-mcp", "--port", "3025"],
            "env": {{ "BROWSER_TOOLS_TOKEN": "${{env:BROWSER_TOOLS_TOKEN}}" }}
        }}
    }}
}}
"""

SIGNED_IN = "Signed in to linear at mcp.linear.app; the token is in the keyring."
FAKE_LOGIN = [sys.executable, "-c", f"print({SIGNED_IN!r})"]
"""Stands in for ``python -m mcpguard``; the page appends ``remote login linear --client cursor``."""


def render(path: pathlib.Path, done: pathlib.Path | None = None) -> None:
    """Save the page with Cursor's wrapped ``linear`` selected to ``path``, and after its sign-in to ``done``."""
    _render(path, sign_in=False)
    if done is not None:
        _render(done, sign_in=True)


def _render(path: pathlib.Path, *, sign_in: bool) -> None:
    app = _app()
    with _machine() as (env, paths):
        (pathlib.Path(env["HOME"]) / ".cursor" / "mcp.json").write_text(CURSOR, encoding="utf-8")
        view = ClientsView(
            paths, confirm=lambda plan: False, env=env, platform="linux", launcher=[LAUNCHER], login_command=FAKE_LOGIN
        )
        view.resize(1000, 650)
        view.refresh()
        key = next(s.key for c in view.configs for s in c.servers if s.name == "linear" and s.client == "cursor")
        view.select_server(key)
        if sign_in:
            loop = QEventLoop()
            view.signin_finished.connect(lambda _name, _ok: loop.quit())
            QTimer.singleShot(20000, loop.quit)
            view.signin_button.click()
            loop.exec()
            if view.signing_in or view.message.text() != SIGNED_IN:
                raise RuntimeError(f"the sign-in did not end as expected: {view.message.text()!r}")
        _save(app, view, path)


if __name__ == "__main__":
    selected = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    finished = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else DONE_OUT
    render(selected, finished)
    print(selected, finished, sep="\n")
