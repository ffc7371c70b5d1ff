"""A fake machine for the GUI's client tests: HOME, XDG_CONFIG_HOME and APPDATA under tmp, configs from the corpus."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent.parent / "fixtures" / "clients"

CLAUDE_DESKTOP = "xdg:Claude/claude_desktop_config.json"
CURSOR = "home:.cursor/mcp.json"
VSCODE = "xdg:Code/User/mcp.json"
WINDSURF = "home:.codeium/windsurf/mcp_config.json"


@dataclass
class Machine:
    """Where the fake machine keeps things; the process environment points at it."""

    home: Path
    xdg: Path
    appdata: Path

    def path(self, where: str) -> Path:
        root, rel = where.split(":", 1)
        return {"home": self.home, "xdg": self.xdg, "appdata": self.appdata}[root] / rel

    def place(self, fixture: str, where: str) -> Path:
        """Copy a corpus file to ``root:relative/path``; returns the path."""
        target = self.path(where)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FIXTURES / fixture, target)
        return target


def make_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Machine:
    machine = Machine(tmp_path / "home", tmp_path / "xdg", tmp_path / "appdata")
    for folder in (machine.home, machine.xdg, machine.appdata):
        folder.mkdir()
    monkeypatch.setenv("HOME", str(machine.home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(machine.xdg))
    monkeypatch.setenv("APPDATA", str(machine.appdata))
    for name in ("CLAUDE_CONFIG_DIR", "CODEX_HOME"):
        monkeypatch.delenv(name, raising=False)
    return machine


def entry(path: Path, name: str, container: str = "mcpServers") -> dict[str, Any]:
    """One server entry of a strict-JSON config, as parsed data."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data[container][name]  # type: ignore[no-any-return]


def add_server(path: Path, name: str, command: str, args: list[str]) -> None:
    """Add a server the way a person or a client would: rewrite the whole (strict JSON) file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    data["mcpServers"][name] = {"command": command, "args": args}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
