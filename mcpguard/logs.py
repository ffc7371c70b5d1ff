"""Diagnostic logging: stderr and a file, never stdout (stdout carries JSON-RPC in the shim)."""

from __future__ import annotations

import logging
import os
import sys

from mcpguard.paths import AppPaths

LEVEL_ENV = "MCPGUARD_LOG_LEVEL"
_FORMAT = "%(asctime)s mcpguard[%(process)d] %(levelname)s %(name)s: %(message)s"


def setup(paths: AppPaths | None, *, prefix: str = "mcpguard", stderr_level: int | None = None) -> None:
    """Send log records to stderr and, when a profile is given, to ``logs/<prefix>.log``.

    Args:
        paths: The profile whose log directory receives the file log, or None for stderr only.
        prefix: File name stem, so the shims and the tray write separate files.
        stderr_level: Threshold for stderr; defaults to ``$MCPGUARD_LOG_LEVEL`` or WARNING.
    """
    root = logging.getLogger("mcpguard")
    if getattr(root, "_mcpguard_configured", False):
        return
    level_name = os.environ.get(LEVEL_ENV, "").upper()
    level = stderr_level if stderr_level is not None else getattr(logging, level_name, logging.WARNING)
    root.setLevel(min(level, logging.INFO))
    err = logging.StreamHandler(sys.stderr)
    err.setLevel(level)
    err.setFormatter(logging.Formatter("mcpguard: %(message)s"))
    root.addHandler(err)
    if paths is not None:
        try:
            paths.log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            fh = logging.FileHandler(paths.log_dir / f"{prefix}.log", encoding="utf-8", delay=True)
        except OSError as exc:
            root.warning("cannot write the log file in %s (%s); logging to stderr only", paths.log_dir, exc)
        else:
            fh.setLevel(logging.INFO)
            fh.setFormatter(logging.Formatter(_FORMAT))
            root.addHandler(fh)
    root.propagate = False
    root._mcpguard_configured = True  # type: ignore[attr-defined]
