"""A fake machine per test: HOME, APPDATA, XDG_CONFIG_HOME and a project directory under tmp_path."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent.parent / "fixtures" / "clients"

# fixture file, client id, platform, where it goes (root:relative path)
CASES: list[tuple[str, str, str, str]] = [
    ("claude_desktop_config.json", "claude-desktop", "darwin",
     "home:Library/Application Support/Claude/claude_desktop_config.json"),
    ("claude_desktop_config.windows.json", "claude-desktop", "win32", "appdata:Claude/claude_desktop_config.json"),
    ("claude.json", "claude-code", "linux", "home:.claude.json"),
    ("mcp.json", "claude-code", "linux", "project:.mcp.json"),
    ("cursor_mcp.json", "cursor", "linux", "home:.cursor/mcp.json"),
    ("cursor_project_mcp.json", "cursor", "win32", "project:.cursor/mcp.json"),
    ("vscode_mcp.json", "vscode", "linux", "xdg:Code/User/mcp.json"),
    ("vscode_settings.json", "vscode", "darwin", "home:Library/Application Support/Code/User/settings.json"),
    ("vscode_workspace_mcp.json", "vscode", "linux", "project:.vscode/mcp.json"),
    ("windsurf_mcp_config.json", "windsurf", "win32", "home:.codeium/windsurf/mcp_config.json"),
    ("zed_settings.json", "zed", "linux", "xdg:zed/settings.json"),
    ("cline_mcp_settings.json", "cline", "win32",
     "appdata:Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json"),
    ("gemini_settings.json", "gemini-cli", "linux", "home:.gemini/settings.json"),
    ("lmstudio_mcp.json", "lm-studio", "darwin", "home:.lmstudio/mcp.json"),
    ("continue_config.yaml", "continue", "linux", "home:.continue/config.yaml"),
    ("continue_block.yaml", "continue", "linux", "project:.continue/mcpServers/playwright-mcp.yaml"),
    ("goose_config.yaml", "goose", "darwin", "home:.config/goose/config.yaml"),
    ("codex_config.toml", "codex", "linux", "home:.codex/config.toml"),
]  # fmt: skip


@dataclass
class Machine:
    """Where a fake machine keeps things; ``env`` is what discovery reads."""

    root: Path
    home: Path
    appdata: Path
    xdg: Path
    project: Path

    @property
    def env(self) -> dict[str, str]:
        return {"HOME": str(self.home), "APPDATA": str(self.appdata), "XDG_CONFIG_HOME": str(self.xdg)}

    def place(self, fixture: str, where: str) -> Path:
        """Copy a fixture to ``root:relative/path`` and return the path."""
        root, rel = where.split(":", 1)
        target = {"home": self.home, "appdata": self.appdata, "xdg": self.xdg, "project": self.project}[root] / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FIXTURES / fixture, target)
        return target


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    m = Machine(tmp_path, tmp_path / "home", tmp_path / "appdata", tmp_path / "xdg", tmp_path / "project")
    for d in (m.home, m.appdata, m.xdg, m.project):
        d.mkdir()
    return m


@pytest.fixture
def fake_env(machine: Machine, monkeypatch: pytest.MonkeyPatch) -> Machine:
    """The fake machine as this process's environment (for the CLI, which reads os.environ)."""
    for key, value in machine.env.items():
        monkeypatch.setenv(key, value)
    return machine
