"""Where mcpguard keeps its files: one immutable object, built once and passed in."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "MCPGUARD_HOME"


@dataclass(frozen=True)
class AppPaths:
    """The directories and files of one mcpguard profile.

    Tests and users who want a separate profile set ``MCPGUARD_HOME``; everything lives under it.
    """

    home: Path
    """The profile directory, readable by the user alone."""

    @property
    def database(self) -> Path:
        """The SQLite state database shared by every shim and the tray."""
        return self.home / "state.db"

    @property
    def log_dir(self) -> Path:
        """Diagnostic logs (never the tool-call log, which lives in the database)."""
        return self.home / "logs"

    @classmethod
    def under(cls, home: str | os.PathLike[str]) -> AppPaths:
        """A profile rooted at ``home`` (development and tests)."""
        return cls(Path(home).expanduser().absolute())

    @classmethod
    def from_env(cls) -> AppPaths:
        """``$MCPGUARD_HOME`` when set, otherwise the platform's user data directory."""
        override = os.environ.get(HOME_ENV)
        if override:
            return cls.under(override)
        import platformdirs  # only when there is no override: it costs start-up time

        return cls(Path(platformdirs.user_data_dir("mcpguard", appauthor=False)))

    def ensure(self) -> AppPaths:
        """Create the profile directory, private to the user, and return self."""
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        if os.name == "posix":
            os.chmod(self.home, 0o700)
        return self
