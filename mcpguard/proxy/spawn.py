"""Starts the real server first thing, so its own boot overlaps mcpguard's.

A Python or node server takes tens to hundreds of milliseconds to start; the shim's imports and
store set-up happen meanwhile instead of before. Nothing is relayed until the guard is ready: the
server's first answer waits in its pipe.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence


def spawn(command: Sequence[str], name: str) -> subprocess.Popen[bytes] | int:
    """The running server, or the exit status to use when it cannot start (a sentence is on stderr).

    The server gets a session (process group) of its own so that the whole group can be ended when
    the client goes away; its stderr is ours.
    """
    try:
        return subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,
            bufsize=0,
            start_new_session=os.name == "posix",
        )
    except FileNotFoundError:
        print(f"mcpguard: cannot start the server {name!r}: command not found: {command[0]}", file=sys.stderr)
        return 127
    except PermissionError:
        print(f"mcpguard: cannot start the server {name!r}: permission denied: {command[0]}", file=sys.stderr)
        return 126
    except OSError as exc:
        print(f"mcpguard: cannot start the server {name!r}: {exc}", file=sys.stderr)
        return 1


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End a server the guard could not be set up for: fail closed, leave nothing behind."""
    try:
        if os.name == "posix":
            import signal

            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
