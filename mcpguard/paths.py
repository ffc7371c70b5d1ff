"""Where mcpguard keeps its files: one immutable object, built once and passed in.

The shim opens the profile on every start, so this module avoids ``pathlib`` (5 ms of imports):
the shim uses the text forms (:attr:`AppPaths.root`, :attr:`AppPaths.database_file`,
:attr:`AppPaths.log_folder`); the ``Path`` forms are built on demand for everyone else.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    from pathlib import Path

HOME_ENV = "MCPGUARD_HOME"


class AppPaths:
    """The directories and files of one mcpguard profile.

    Tests and users who want a separate profile set ``MCPGUARD_HOME``; everything lives under it.
    """

    __slots__ = ("root",)

    root: str
    """The profile directory (absolute), readable by the user alone."""

    def __init__(self, home: str | os.PathLike[str]) -> None:
        object.__setattr__(self, "root", os.fspath(home))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"AppPaths is immutable (cannot set {name!r})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AppPaths) and other.root == self.root

    def __hash__(self) -> int:
        return hash(self.root)

    def __repr__(self) -> str:
        return f"AppPaths({self.root!r})"

    @property
    def home(self) -> Path:
        """The profile directory as a ``Path``."""
        from pathlib import Path

        return Path(self.root)

    @property
    def database(self) -> Path:
        """The SQLite state database shared by every shim and the tray."""
        return self.home / "state.db"

    @property
    def database_file(self) -> str:
        """:attr:`database` as text."""
        return os.path.join(self.root, "state.db")

    @property
    def log_dir(self) -> Path:
        """Diagnostic logs (never the tool-call log, which lives in the database)."""
        return self.home / "logs"

    @property
    def log_folder(self) -> str:
        """:attr:`log_dir` as text."""
        return os.path.join(self.root, "logs")

    @classmethod
    def under(cls, home: str | os.PathLike[str]) -> AppPaths:
        """A profile rooted at ``home`` (development and tests); ``~`` is expanded, relative paths made absolute."""
        path = os.path.expanduser(os.fspath(home))
        if not os.path.isabs(path):
            path = os.path.join(os.getcwd(), path)
        return cls(path)

    @classmethod
    def from_env(cls) -> AppPaths:
        """``$MCPGUARD_HOME`` when set, otherwise the platform's user data directory."""
        override = os.environ.get(HOME_ENV)
        if override:
            return cls.under(override)
        import platformdirs  # only when there is no override: it costs start-up time

        return cls(platformdirs.user_data_dir("mcpguard", appauthor=False))

    def ensure(self) -> AppPaths:
        """Create the profile directory, private to the user, and return self."""
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        if os.name == "posix":
            os.chmod(self.root, 0o700)
        return self
