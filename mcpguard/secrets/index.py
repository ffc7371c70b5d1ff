"""The names of the stored secrets (never their values): ``<profile>/secrets-index.json``.

The ``keyring`` API can get, set and delete one entry but cannot list them, and ``mcpguard secrets
list`` and the shim both need to know which secrets exist. The shim reads this file at every start
to learn whether its server has secrets at all: when it has none, ``keyring`` is never imported
(it costs 110-180 ms). So this module imports only ``os``, and ``json`` (with ``re``, several
milliseconds before the server can start) only once there is an index to read or write.

The file is private (0600 in the 0700 profile), replaced atomically, and changed only under an
exclusive lock (``secrets-index.lock``), so two ``mcpguard secrets set`` running at once both land.
A name in the file whose value the keyring lost is reported where it is used, never guessed at.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    from collections.abc import Iterable
    from types import TracebackType

INDEX_FILE = "secrets-index.json"
LOCK_FILE = "secrets-index.lock"
VERSION = 1


def index_path(folder: str) -> str:
    """Where the index of the profile ``folder`` lives."""
    return os.path.join(folder, INDEX_FILE)


def read_names(folder: str) -> list[str]:
    """Every secret name of the profile, sorted; [] when there is no index yet.

    Raises:
        SecretsError: The file exists but is damaged (the message says how to recover).
    """
    path = index_path(folder)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return []
    except OSError as exc:
        from mcpguard.secrets.base import SecretsError

        raise SecretsError(f"{path} cannot be read ({exc.strerror})") from exc
    import json

    try:
        doc = json.loads(data)
        names = doc["names"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise TypeError("names is not a list of strings")
    except (ValueError, KeyError, TypeError) as exc:
        from mcpguard.secrets.base import SecretsError

        raise SecretsError(
            f"{path} is damaged ({exc}); delete it and store the secrets again with `mcpguard secrets set`"
        ) from exc
    return sorted(set(names))


def server_variables(folder: str, server: str) -> list[str]:
    """The variables the server ``server`` has secrets for (``SERVER/VAR`` names in the index).

    mcpguard's own secrets (whose variable part is not a variable name) are never among them.
    """
    from mcpguard.secrets.names import SEPARATOR, is_variable_name

    prefix = server + SEPARATOR
    out = []
    for name in read_names(folder):
        if name.startswith(prefix):
            variable = name[len(prefix) :]
            if SEPARATOR not in variable and is_variable_name(variable):
                out.append(variable)
    return out


def update(folder: str, *, add: Iterable[str] = (), remove: Iterable[str] = ()) -> list[str]:
    """Add and remove names in one locked, atomic rewrite; returns the new list."""
    with IndexLock(folder):
        return update_locked(folder, add=add, remove=remove)


def update_locked(folder: str, *, add: Iterable[str] = (), remove: Iterable[str] = ()) -> list[str]:
    """:func:`update` for a caller that already holds :class:`IndexLock` (``flock`` does not nest)."""
    names = set(read_names(folder))
    names.difference_update(remove)
    names.update(add)
    result = sorted(names)
    try:
        _write(folder, result)
    except OSError as exc:
        from mcpguard.secrets.base import SecretsError

        raise SecretsError(f"{index_path(folder)} could not be written ({exc.strerror or exc})") from exc
    return result


def _write(folder: str, names: list[str]) -> None:
    path = index_path(folder)
    import json

    data = (json.dumps({"version": VERSION, "names": names}, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    tmp = path + ".tmp"  # only ever written under the lock, so a fixed name cannot clash
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o600)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)  # a temp file left by a crash may have other bits
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if os.name == "posix":
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


class IndexLock:
    """An exclusive, cross-process lock on the profile's secrets (``flock`` / ``msvcrt.locking``).

    Held while the index is rewritten and while a secret is created once (:meth:`setdefault` of the
    keyring store), so concurrent mcpguard processes agree. The lock file itself holds nothing.
    """

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self._fd = -1

    def __enter__(self) -> IndexLock:
        os.makedirs(self.folder, mode=0o700, exist_ok=True)
        self._fd = os.open(os.path.join(self.folder, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if sys.platform == "win32":
                import msvcrt
                import time

                while True:
                    try:
                        msvcrt.locking(self._fd, msvcrt.LK_NBLCK, 1)
                        break
                    except OSError:
                        time.sleep(0.02)
            else:
                import fcntl

                fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(self._fd)
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if sys.platform == "win32":
                import msvcrt

                os.lseek(self._fd, 0, os.SEEK_SET)
                msvcrt.locking(self._fd, msvcrt.LK_UNLCK, 1)
            else:
                import fcntl

                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = -1
