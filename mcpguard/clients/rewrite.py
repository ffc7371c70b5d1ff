"""Change a config file without ever damaging it: back up, write atomically, verify, don't lose updates.

The order of one update:

1. read the file (bytes); a file that does not decode or parse is never written;
2. compute the new text (the caller's ``edit``, which verifies it by parsing it again);
3. copy the bytes read to a private backup in the mcpguard profile;
4. write the new text to a temporary file in the same directory, fsync it, give it the original's
   mode (and owner, when running as root);
5. read the file again: if it changed since step 1 (Claude Code rewrites ``~/.claude.json`` all the
   time), throw the temporary file away and start again from step 1 on the new content, a bounded
   number of times;
6. ``os.replace`` the temporary file over the real one (atomic on POSIX and Windows), fsync the
   directory, and read it back to check that what is there is what was written.

Backups go to ``<profile>/backups/`` (0700; files 0600) rather than beside the config: configs
live in project directories under version control and in the home directory, where a stray
``.bak`` is clutter at best and a leak of the secrets in ``env`` blocks at worst. Each backup is
listed in ``backups/index.tsv`` (time, original path, backup path) so a user can find it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mcpguard.clients.errors import ClientConfigError, ConfigChanged, ConfigParseError
from mcpguard.paths import AppPaths

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Updated:
    """The outcome of one successful update."""

    path: Path
    backup: Path
    before: str
    after: str
    attempts: int


def decode(data: bytes, source: str) -> str:
    """The text of a config file; line endings and a BOM are kept as they are.

    Raises:
        ConfigParseError: The bytes are not UTF-8 (with the line and column of the first bad byte).
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigParseError(source, line, col, "the file is not UTF-8 text") from exc


def real_path(path: Path) -> Path:
    """The file behind symlinks: a dotfile manager's link must stay a link to an updated file."""
    return Path(os.path.realpath(path))


def backup(paths: AppPaths, path: Path, data: bytes, label: str) -> Path:
    """Copy ``data`` (the file's content before our write) to a new private file in the profile."""
    folder = paths.ensure().home / "backups"
    folder.mkdir(mode=0o700, exist_ok=True)
    if os.name == "posix":
        os.chmod(folder, 0o700)
    stamp = time.strftime("%Y%m%dT%H%M%S") + f".{int(time.time() * 1e6) % 1_000_000:06d}"
    digest = hashlib.sha256(str(path).encode("utf-8", "surrogateescape")).hexdigest()[:8]
    name = f"{stamp}-{label}-{digest}-{path.name}"
    target = folder / name
    n = 0
    while True:
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
            break
        except FileExistsError:
            n += 1
            target = folder / f"{name}.{n}"
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    with open(folder / "index.tsv", "a", encoding="utf-8") as index:
        index.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')}\t{path}\t{target}\n")
    if os.name == "posix":
        os.chmod(folder / "index.tsv", 0o600)
    return target


def write_atomic(path: Path, data: bytes, *, mode: int | None = None, owner: tuple[int, int] | None = None) -> None:
    """Replace ``path`` with ``data`` in one step: temp file in the same directory, fsync, rename.

    ``mode`` defaults to the existing file's permission bits (0600 for a new file).
    """
    tmp = _write_temp(path, data, mode=mode, owner=owner)
    try:
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _write_temp(path: Path, data: bytes, *, mode: int | None, owner: tuple[int, int] | None) -> str:
    if mode is None:
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            mode = 0o600
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".mcpguard-tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        if owner is not None and hasattr(os, "chown"):
            try:
                os.chown(tmp, *owner)
            except OSError:
                log.info("could not give %s its original owner", path)
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def _unlink(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _before_replace(path: Path) -> None:
    """Test seam: called after the temporary file is written, before the final re-read."""


def update_file(
    path: Path,
    edit: Callable[[str], str],
    *,
    paths: AppPaths,
    label: str,
    attempts: int = MAX_ATTEMPTS,
) -> Updated:
    """Apply ``edit`` (old text -> new text, verified by the caller) to ``path`` safely.

    Raises:
        ConfigParseError: The file does not decode or parse; it was not written.
        ConfigChanged: The file changed under us on every attempt; it was not written.
        ClientConfigError: Any refusal of ``edit``; nothing was written.
        OSError: The file system refused (permissions, disk full); the original is intact.
    """
    target = real_path(path)
    backed_up: Path | None = None
    for attempt in range(1, attempts + 1):
        before_bytes = target.read_bytes()
        before = decode(before_bytes, str(path))
        after = edit(before)
        if backed_up is None:
            backed_up = backup(paths, path, before_bytes, label)
        st = os.stat(target)
        owner = (st.st_uid, st.st_gid) if hasattr(os, "geteuid") and os.geteuid() == 0 else None
        tmp = _write_temp(target, after.encode("utf-8"), mode=stat.S_IMODE(st.st_mode), owner=owner)
        try:
            _before_replace(target)
            if target.read_bytes() != before_bytes:
                log.info("%s changed while mcpguard edited it (attempt %d); editing the new content", path, attempt)
                _unlink(tmp)
                backed_up = None
                continue
            os.replace(tmp, target)
        except BaseException:
            _unlink(tmp)
            raise
        _fsync_dir(target.parent)
        if target.read_bytes() != after.encode("utf-8"):
            raise ClientConfigError(
                f"{path} was rewritten by another program right after mcpguard wrote it; run the command again"
            )
        return Updated(path, backed_up, before, after, attempt)
    raise ConfigChanged(
        f"{path} kept changing while mcpguard tried to edit it ({attempts} attempts); "
        "close the client that writes it and try again"
    )
