"""Diagnostic logging: stderr and a file, never stdout (stdout carries JSON-RPC in the shim).

Importing ``logging`` costs about 10 ms, and the shim starts for every server every time a client
starts, usually to log nothing at all. So the shim's modules log through :func:`get`, whose
:class:`Logger` imports ``logging`` only when the first record is logged, and the shim asks for its
set-up with :func:`defer_setup`, which is applied at that same moment. Records reach the same
handlers, in the same format, as with :func:`setup`.
"""

from __future__ import annotations

import os
import sys
import threading

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    import logging

    from mcpguard.paths import AppPaths

LEVEL_ENV = "MCPGUARD_LOG_LEVEL"
_FORMAT = "%(asctime)s mcpguard[%(process)d] %(levelname)s %(name)s: %(message)s"

_deferred: tuple[AppPaths | None, str] | None = None
_deferred_lock = threading.Lock()


def setup(paths: AppPaths | None, *, prefix: str = "mcpguard", stderr_level: int | None = None) -> None:
    """Send log records to stderr and, when a profile is given, to ``logs/<prefix>.log``.

    Args:
        paths: The profile whose log directory receives the file log, or None for stderr only.
        prefix: File name stem, so the shims and the tray write separate files.
        stderr_level: Threshold for stderr; defaults to ``$MCPGUARD_LOG_LEVEL`` or WARNING.
    """
    import logging

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
            os.makedirs(paths.log_folder, mode=0o700, exist_ok=True)
            fh = logging.FileHandler(os.path.join(paths.log_folder, f"{prefix}.log"), encoding="utf-8", delay=True)
        except OSError as exc:
            root.warning("cannot write the log file in %s (%s); logging to stderr only", paths.log_folder, exc)
        else:
            fh.setLevel(logging.INFO)
            fh.setFormatter(logging.Formatter(_FORMAT))
            root.addHandler(fh)
    root.propagate = False
    root._mcpguard_configured = True  # type: ignore[attr-defined]


def defer_setup(paths: AppPaths | None, *, prefix: str = "mcpguard") -> None:
    """:func:`setup` as soon as anything is logged through :func:`get`, and not before."""
    global _deferred
    with _deferred_lock:
        _deferred = (paths, prefix)
    if "logging" in sys.modules:  # someone already paid for it: nothing to save by waiting
        _apply_deferred()


def _apply_deferred() -> None:
    global _deferred
    with _deferred_lock:
        wanted, _deferred = _deferred, None
        if wanted is not None:
            setup(wanted[0], prefix=wanted[1])


class Logger:
    """A ``logging.Logger`` stand-in that imports ``logging`` when its first record comes."""

    __slots__ = ("name", "_logger")

    def __init__(self, name: str) -> None:
        self.name = name
        self._logger: logging.Logger | None = None

    def _real(self) -> logging.Logger:
        logger = self._logger
        if logger is None:
            import logging

            _apply_deferred()
            logger = self._logger = logging.getLogger(self.name)
        return logger

    # stacklevel=2: the record names the caller, not this wrapper.

    def debug(self, msg: str, *args: object) -> None:
        self._real().debug(msg, *args, stacklevel=2)

    def info(self, msg: str, *args: object) -> None:
        self._real().info(msg, *args, stacklevel=2)

    def warning(self, msg: str, *args: object) -> None:
        self._real().warning(msg, *args, stacklevel=2)

    def error(self, msg: str, *args: object) -> None:
        self._real().error(msg, *args, stacklevel=2)

    def exception(self, msg: str, *args: object) -> None:
        """An ERROR record with the exception being handled."""
        self._real().exception(msg, *args, stacklevel=2)


def get(name: str) -> Logger:
    """The logger for module ``name``; ``logging`` is imported when it first logs."""
    return Logger(name)
