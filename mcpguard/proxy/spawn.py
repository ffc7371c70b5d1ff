"""Starts the real server first thing, so its own boot overlaps mcpguard's.

A Python or node server takes tens to hundreds of milliseconds to start; the shim's imports and
store set-up happen meanwhile instead of before. Nothing is relayed until the guard is ready: the
server's first answer waits in its pipe.

On POSIX the server is started with ``os.posix_spawnp``, which needs nothing beyond ``os``: importing
``subprocess`` first (with ``locale``, ``selectors`` and ``re``) would delay the server's start by
several milliseconds. The child gets what ``subprocess.Popen(..., start_new_session=True)`` gives it:
its own session, the default SIGPIPE and SIGXFSZ handlers, and no descriptor of ours but its stdin,
stdout and stderr (our stderr). (One difference: glibc's posix_spawn leaves its two internal
real-time signals, 32 and 33, ignored in the child; glibc and other runtimes install their own
handlers for those when they use them.) Elsewhere ``subprocess.Popen`` does the same job.
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    import subprocess
    import threading
    from collections.abc import Mapping, Sequence


class Server:
    """The running server as the shim needs it: its pipes, its exit status, its process group."""

    def __init__(
        self, args: list[str], pid: int, stdin: int, stdout: int, popen: subprocess.Popen[bytes] | None = None
    ) -> None:
        self.args = args
        self.pid = pid
        self.stdin: int | None = stdin
        """The write end of the server's stdin; None once closed."""
        self.stdout = stdout
        """The read end of the server's stdout."""
        self.returncode: int | None = None
        """Like ``Popen.returncode``: the exit status, or minus the signal that ended the server."""
        self._popen = popen
        import threading  # here, once the server runs: threading costs milliseconds to import

        self._waitpid_lock: threading.Lock = threading.Lock()

    def close_stdin(self) -> None:
        """Close the server's stdin (it sees EOF); closing twice does nothing."""
        fd, self.stdin = self.stdin, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit status once the server has ended; None if it still runs after ``timeout`` seconds.

        Any thread may wait; the one that waits without a time-out reaps the process, the others
        look for its status (as ``subprocess.Popen.wait`` does).
        """
        if self._popen is not None:
            if timeout is None:
                return self._popen.wait()
            import subprocess

            try:
                return self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                return None
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.0005
        while self.returncode is None:
            if deadline is None:
                with self._waitpid_lock:
                    self._reap(0)
                continue
            if self._waitpid_lock.acquire(False):
                try:
                    self._reap(os.WNOHANG)
                finally:
                    self._waitpid_lock.release()
                if self.returncode is not None:
                    break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            delay = min(delay * 2, remaining, 0.05)
            time.sleep(delay)
        return self.returncode

    def _reap(self, flags: int) -> None:
        if self.returncode is not None:
            return
        try:
            pid, status = os.waitpid(self.pid, flags)
        except ChildProcessError:
            self.returncode = 255  # reaped elsewhere; its status is lost (as in subprocess)
            return
        if pid == self.pid:
            self.returncode = os.waitstatus_to_exitcode(status)

    def signal_group(self, sig: int) -> None:
        """Send ``sig`` to the server's whole process group (on Windows: end the server)."""
        try:
            if os.name == "posix":
                os.killpg(self.pid, sig)
            elif self._popen is not None and self._popen.poll() is None:
                self._popen.terminate()
        except (ProcessLookupError, PermissionError):
            pass


def spawn(
    command: Sequence[str], name: str, env: Mapping[str, str] | None = None, *, stderr_fd: int | None = None
) -> Server | int:
    """The running server, or the exit status to use when it cannot start (a sentence is on stderr).

    The server gets a session (process group) of its own so that the whole group can be ended when
    the client goes away. ``env`` is its whole environment (``launch_environment`` decides it; None:
    ours). Its stderr is ours unless ``stderr_fd`` names the write end of a pipe the shim reads (to
    redact a server's secrets from what it prints); that descriptor stays the caller's to close.
    """
    args = list(command)
    environ = os.environ if env is None else env
    try:
        if hasattr(os, "posix_spawnp"):
            return _posix_spawn(args, environ, stderr_fd)
        return _popen(args, environ, stderr_fd)
    except FileNotFoundError:
        print(f"mcpguard: cannot start the server {name!r}: command not found: {command[0]}", file=sys.stderr)
        return 127
    except PermissionError:
        print(f"mcpguard: cannot start the server {name!r}: permission denied: {command[0]}", file=sys.stderr)
        return 126
    except OSError as exc:
        print(f"mcpguard: cannot start the server {name!r}: {exc}", file=sys.stderr)
        return 1


# SIGPIPE and SIGXFSZ: Python ignores them, and an ignored signal stays ignored across exec.
# ``_signal`` is the built-in half of ``signal``, whose enum classes cost milliseconds to build.
_RESET_SIGNALS = ("SIGPIPE", "SIGXFSZ")


def _posix_spawn(args: list[str], env: Mapping[str, str], stderr_fd: int | None) -> Server:
    import _signal  # type: ignore[import-not-found]  # the C half of signal, without its enums; no stub

    to_server = os.pipe()
    from_server = os.pipe()
    fds = (*to_server, *from_server)
    try:
        if min(fds) <= 2:  # our own stdin or stdout was closed: let subprocess sort the descriptors out
            raise _Fallback
        _keep_descriptors_to_ourselves()
        actions = [(os.POSIX_SPAWN_DUP2, to_server[0], 0), (os.POSIX_SPAWN_DUP2, from_server[1], 1)]
        if stderr_fd is not None:
            actions.append((os.POSIX_SPAWN_DUP2, stderr_fd, 2))
        pid = os.posix_spawnp(
            args[0],
            args,
            env,
            file_actions=actions,
            setsid=True,
            setsigdef=[getattr(_signal, name) for name in _RESET_SIGNALS if hasattr(_signal, name)],
        )
    except _Fallback:
        for fd in fds:
            os.close(fd)
        return _popen(args, env, stderr_fd)
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    os.close(to_server[0])
    os.close(from_server[1])
    return Server(args, pid, to_server[1], from_server[0])


class _Fallback(Exception):
    """posix_spawn cannot set this child up the way Popen would."""


def _keep_descriptors_to_ourselves() -> None:
    """Mark every descriptor above stderr close-on-exec, as ``Popen(close_fds=True)`` keeps them from a child.

    Python opens its own descriptors that way; one we inherited from the client may not be.
    """
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            fd = int(name)
            if fd > 2:
                try:
                    os.set_inheritable(fd, False)
                except OSError:
                    pass  # the descriptor listdir itself had open
        return
    raise _Fallback


def _popen(args: list[str], env: Mapping[str, str], stderr_fd: int | None) -> Server:
    import subprocess

    proc = subprocess.Popen(
        args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr_fd,
        env=env,
        bufsize=0,
        start_new_session=os.name == "posix",
    )
    assert proc.stdin is not None and proc.stdout is not None
    # The Server owns the descriptors from now on; the file objects must not close them again.
    stdin, stdout = os.dup(proc.stdin.fileno()), os.dup(proc.stdout.fileno())
    proc.stdin.close()
    proc.stdout.close()
    return Server(args, proc.pid, stdin, stdout, popen=proc)


def stop(proc: Server) -> None:
    """End a server the guard could not be set up for: fail closed, leave nothing behind."""
    if os.name == "posix":
        import signal

        proc.signal_group(signal.SIGKILL)
    elif proc._popen is not None:
        proc._popen.kill()
    proc.close_stdin()
    proc.wait()
