"""The index of secret names: private, atomic, locked, tolerant of absence, loud about damage."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mcpguard.secrets import index
from mcpguard.secrets.base import SecretsError


def test_missing_index_means_no_secrets(tmp_path: Path) -> None:
    assert index.read_names(str(tmp_path)) == []
    assert index.server_variables(str(tmp_path), "github") == []


def test_update_adds_removes_sorts_and_dedupes(tmp_path: Path) -> None:
    folder = str(tmp_path / "profile")
    index.update(folder, add=["b/TOKEN", "a/TOKEN", "a/TOKEN"])
    assert index.update(folder, add=["c/KEY"], remove=["b/TOKEN"]) == ["a/TOKEN", "c/KEY"]
    doc = json.loads(Path(index.index_path(folder)).read_text(encoding="utf-8"))
    assert doc == {"version": 1, "names": ["a/TOKEN", "c/KEY"]}


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_index_and_its_folder_are_private(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    index.update(str(folder), add=["a/TOKEN"])
    assert stat.S_IMODE(os.stat(index.index_path(str(folder))).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert not Path(index.index_path(str(folder)) + ".tmp").exists()


def test_server_variables_pick_the_server_by_its_full_name(tmp_path: Path) -> None:
    folder = str(tmp_path)
    index.update(folder, add=["a/TOKEN", "a/b/KEY", "ab/X", "mcpguard/integrity-key", "mcpguard/TOKEN"])
    assert index.server_variables(folder, "a") == ["TOKEN"]
    assert index.server_variables(folder, "a/b") == ["KEY"]
    assert index.server_variables(folder, "mcpguard") == ["TOKEN"]  # never the internal key


@pytest.mark.parametrize("content", ["{", '{"names": "a/B"}', '{"version": 1}', "[]"])
def test_a_damaged_index_is_an_error_that_says_how_to_recover(tmp_path: Path, content: str) -> None:
    Path(index.index_path(str(tmp_path))).write_text(content, encoding="utf-8")
    with pytest.raises(SecretsError, match="delete it and store the secrets again"):
        index.read_names(str(tmp_path))


def test_concurrent_updates_all_land(tmp_path: Path) -> None:
    """Separate processes, each adding names under the lock: none is lost."""
    folder = str(tmp_path / "profile")
    script = (
        "import sys\n"
        "from mcpguard.secrets import index\n"
        "for i in range(15):\n"
        "    index.update(sys.argv[1], add=[f'{sys.argv[2]}/V{i}'])\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, folder, f"s{n}"]) for n in range(4)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    assert len(index.read_names(folder)) == 60


def test_reading_imports_nothing_heavy() -> None:
    probe = (
        "import sys\n"
        "from mcpguard.secrets import index\n"
        "index.server_variables('/nonexistent-mcpguard-profile', 'x')\n"
        "print(','.join(m for m in ('keyring', 'typing', 're', 'dataclasses') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True, check=True, timeout=30)
    assert "keyring" not in out.stdout
    assert "typing" not in out.stdout
