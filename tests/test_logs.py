"""Diagnostic logging: the shim's set-up waits for its first record, then logs as before."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import sys
from mcpguard import logs
from mcpguard.paths import AppPaths

log = logs.get("mcpguard.proxy.probe")
logs.defer_setup(AppPaths.under(sys.argv[1]), prefix="shim")
print("logging imported before a record:", "logging" in sys.modules, flush=True)
log.info("a quiet %s", "detail")
log.warning("dropped a %d-byte message", 42)
try:
    raise RuntimeError("boom")
except RuntimeError:
    log.exception("step failed")
"""


def test_deferred_set_up_logs_to_stderr_and_the_file(tmp_path: Path) -> None:
    home = tmp_path / "profile"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(home)], capture_output=True, text=True, timeout=60, check=True
    )
    assert "logging imported before a record: False" in done.stdout
    assert "mcpguard: dropped a 42-byte message" in done.stderr
    assert "mcpguard: step failed" in done.stderr and "RuntimeError: boom" in done.stderr
    assert "a quiet detail" not in done.stderr  # INFO goes to the file only
    text = (home / "logs" / "shim.log").read_text(encoding="utf-8")
    assert "INFO mcpguard.proxy.probe: a quiet detail" in text
    assert "WARNING mcpguard.proxy.probe: dropped a 42-byte message" in text
    assert "ERROR mcpguard.proxy.probe: step failed" in text


def test_records_name_the_caller_not_the_wrapper(tmp_path: Path) -> None:
    probe = (
        "import logging, sys\n"
        "from mcpguard import logs\n"
        "seen = []\n"
        "class H(logging.Handler):\n"
        "    def emit(self, record): seen.append((record.module, record.funcName))\n"
        "logging.getLogger('mcpguard').addHandler(H())\n"
        "logging.getLogger('mcpguard').setLevel(logging.INFO)\n"
        "def caller():\n"
        "    logs.get('mcpguard.x').warning('hi')\n"
        "caller()\n"
        "print(seen)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[('<string>', 'caller')]"
