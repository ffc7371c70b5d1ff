"""Screenshots of the AI clients page: ``python -m tests.gui.screens.clients_view_screen [page.png [dialog.png
[remote.png]]]``.

A fake home with the configs a user might have: Claude Desktop with two local servers, one of them
already wrapped; Cursor with a remote server and an ``npx -y`` server fetched unpinned at every start;
VS Code's JSONC ``mcp.json`` with comments, a pinned ``uvx`` server, an inline shell script and a
remote server; Goose's YAML with a remote server that sends an API key in a header. The page is shown
with Cursor's unpinned server selected; ``render_dialog`` shows the confirmation a click on "Wrap all of
Cursor" opens, and ``render_remote_dialog`` the one for wrapping Goose's remote server with "Also guard
remote servers" ticked (its key goes to the keyring and is shown nowhere).
"""

from __future__ import annotations

import os
import pathlib
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from mcpguard.clients.operations import make_plan  # noqa: E402
from mcpguard.gui.clients_view import ClientsView, PlanDialog  # noqa: E402
from mcpguard.paths import AppPaths  # noqa: E402
from mcpguard.secrets.memory import MemoryStore  # noqa: E402
from tests.gui.screens._common import save_grab  # noqa: E402

SCREENSHOTS = pathlib.Path(__file__).resolve().parents[3] / "docs" / "screenshots"
OUT = SCREENSHOTS / "clients.png"
DIALOG_OUT = SCREENSHOTS / "clients-wrap.png"
REMOTE_OUT = SCREENSHOTS / "clients-remote-wrap.png"
LAUNCHER = "/home/alex/.local/bin/mcpguard"

CLAUDE_DESKTOP = f"""{{
  "mcpServers": {{
    "filesystem": {{
      "command": "{LAUNCHER}",
      "args": [
        "run", "--name", "filesystem", "--client", "claude-desktop", "--",
        "npx",
        "-y",
        "@modelcontextprotocol/server-filesystem@2025.8.21",
        "/home/alex/projects"
      ]
    }},
    "postgres": {{
      "command": "docker",
      "args": ["run", "-i", "--rm", "-e", "DATABASE_URL", "mcp/postgres:0.6.2"],
      "env": {{ "DATABASE_URL": "postgresql://alex@localhost/shop" }}
    }}
  }},
  "globalShortcut": "Alt+Space"
}}
"""

CURSOR = """{
    "mcpServers": {
        "linear": {
            "url": "https://mcp.linear.app/mcp"
        },
        "browser-tools": {
            "command": "npx",
            "args": ["-y", "@agentdeskai/browser-tools-mcp", "--port", "3025"],
            "env": { "BROWSER_TOOLS_TOKEN": "${env:BROWSER_TOOLS_TOKEN}" }
        }
    }
}
"""

VSCODE = """// VS Code user MCP configuration
{
\t"servers": {
\t\t// pinned after the 2025 incident
\t\t"fetch": {
\t\t\t"type": "stdio",
\t\t\t"command": "uvx",
\t\t\t"args": ["mcp-server-fetch==2025.4.7"],
\t\t},
\t\t"scripts": {
\t\t\t"type": "stdio",
\t\t\t"command": "bash",
\t\t\t"args": ["-c", "cd ~/tools/mcp && ./serve.sh --stdio"]
\t\t},
\t\t"github": {
\t\t\t"type": "http",
\t\t\t"url": "https://api.githubcopilot.com/mcp/"
\t\t},
\t},
}
"""

GOOSE = """GOOSE_PROVIDER: anthropic
extensions:
  developer:
    bundled: true
    enabled: true
    name: developer
    timeout: 300
    type: builtin
  # web search, hosted by Tavily
  tavily:
    enabled: true
    name: tavily
    type: streamable_http
    uri: https://mcp.tavily.com/mcp/
    headers:
      Authorization: Bearer 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   # from app.tavily.com
      X-Client: goose
    envs: {}
    timeout: 300
"""


@contextmanager
def _machine() -> Iterator[tuple[dict[str, str], AppPaths]]:
    """A throw-away home with the three configs, and a profile beside it; the real ones are never read."""
    with tempfile.TemporaryDirectory(prefix="mcpguard-screen-") as tmp:
        home = pathlib.Path(tmp) / "home"
        xdg = home / ".config"
        files = {
            xdg / "Claude" / "claude_desktop_config.json": CLAUDE_DESKTOP,
            home / ".cursor" / "mcp.json": CURSOR,
            xdg / "Code" / "User" / "mcp.json": VSCODE,
            xdg / "goose" / "config.yaml": GOOSE,
        }
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        env = {"HOME": str(home), "XDG_CONFIG_HOME": str(xdg), "APPDATA": str(home / "AppData" / "Roaming")}
        yield env, AppPaths.under(pathlib.Path(tmp) / "profile")


def _save(app: QApplication, widget: QWidget, path: pathlib.Path) -> None:
    # Laid out and painted like a shown window, without flashing one up on a real display.
    widget.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    widget.show()
    save_grab(app, widget, path)


def _app() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    return app


def render(path: pathlib.Path) -> None:
    """Save a screenshot of the AI clients page, Cursor's unpinned ``npx -y`` server selected, to ``path``."""
    app = _app()
    with _machine() as (env, paths):
        view = ClientsView(paths, confirm=lambda plan: False, env=env, platform="linux", launcher=[LAUNCHER])
        view.resize(1000, 650)
        view.refresh()
        key = next(s.key for c in view.configs for s in c.servers if s.name == "browser-tools")
        view.select_server(key)
        _save(app, view, path)


def render_dialog(path: pathlib.Path) -> None:
    """Save a screenshot of the confirmation that "Wrap all of Cursor" opens, to ``path``."""
    app = _app()
    with _machine() as (env, paths):
        view = ClientsView(paths, env=env, platform="linux", launcher=[LAUNCHER])
        view.refresh()
        cursor = [c for c in view.configs if c.spec.id == "cursor"]
        dialog = PlanDialog(make_plan("wrap", cursor, launcher=[LAUNCHER]), env=env)
        dialog.resize(860, 600)
        _save(app, dialog, path)
        view.deleteLater()


def render_remote_dialog(path: pathlib.Path) -> None:
    """Save a screenshot of the confirmation for wrapping Goose's remote server (mcpguard as its bridge)."""
    app = _app()
    with _machine() as (env, paths):
        view = ClientsView(paths, env=env, platform="linux", launcher=[LAUNCHER], secrets=MemoryStore())
        view.refresh()
        goose = [c for c in view.configs if c.spec.id == "goose"]
        plan = make_plan("wrap", goose, server="tavily", launcher=[LAUNCHER], secrets=MemoryStore(), remote=True)
        dialog = PlanDialog(plan, env=env)
        dialog.resize(860, 640)
        _save(app, dialog, path)
        view.deleteLater()


if __name__ == "__main__":
    page = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    confirmation = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else DIALOG_OUT
    remote = pathlib.Path(sys.argv[3]) if len(sys.argv) > 3 else REMOTE_OUT
    render(page)
    render_dialog(confirmation)
    render_remote_dialog(remote)
    print(page, confirmation, remote, sep="\n")
