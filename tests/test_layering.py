"""The shim's real import set: no Qt, no HTTP, no keyring, no SDK on the hot path."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import mcpguard

FORBIDDEN = ("PySide6", "httpx", "keyring", "jwt", "watchdog", "mcp", "pydantic", "cryptography")


AVOIDED_AT_START = (
    "typing",
    "dataclasses",
    "inspect",
    "logging",
    "pathlib",
    "subprocess",
    "contextlib",
    "hashlib",
    "rfc8785",
)
"""Modules the shim's start does without (docs/performance.md): each cost milliseconds on every start."""


def _run_path_modules() -> list[str]:
    """Run the real ``mcpguard run`` path up to relaying, then list what it imported."""
    probe = (
        "import sys, json\n"
        "import mcpguard.proxy.shim as shim\n"
        "def report(self):\n"
        "    print(json.dumps(sorted(sys.modules)))\n"
        "    return 0\n"
        "shim.Shim.run = report\n"
        "from mcpguard.cli import main\n"
        "main(['run', '--name', 'probe', '--', 'true'])\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    modules: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    assert "mcpguard.proxy.shim" in modules
    return modules


def test_shim_imports_nothing_heavy() -> None:
    heavy = [m for m in _run_path_modules() if m.split(".")[0] in FORBIDDEN]
    assert heavy == []


def test_shim_start_skips_costly_standard_modules() -> None:
    assert [m for m in _run_path_modules() if m.split(".")[0] in AVOIDED_AT_START] == []


@pytest.mark.parametrize("path", sorted(Path(mcpguard.__file__).parent.rglob("*.py")), ids=lambda p: p.name)
def test_only_the_gui_package_imports_pyside(path: Path) -> None:
    if "gui" in path.relative_to(Path(mcpguard.__file__).parent).parts:
        return
    imports = re.findall(r"^\s*(?:from|import)\s+PySide6", path.read_text(encoding="utf-8"), re.MULTILINE)
    assert imports == []
