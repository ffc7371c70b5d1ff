"""`mcpguard demo`, the terminal walkthrough a new user runs first, end to end through a real shim."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_the_walkthrough_goes_as_promised(tmp_path: Path) -> None:
    env = {**os.environ, "MCPGUARD_HOME": str(tmp_path / "profile")}
    done = subprocess.run(
        [sys.executable, "-m", "mcpguard", "demo"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.rstrip().endswith("Demo complete.")
    assert "mcpguard is holding the tool 'read_note'" in out
    # The log section shows the three calls: the two allowed ones and the one mcpguard held.
    log = out.split("The tool-call log records what happened:", 1)[1]
    assert "No tool calls logged yet" not in log
    assert "  add  ok" in log and "  get_time  ok" in log and "  read_note  blocked" in log
    assert "3 rows, hash chain verified" in log
