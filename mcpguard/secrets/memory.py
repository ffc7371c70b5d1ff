"""An in-memory :class:`~mcpguard.secrets.base.SecretStore` for tests (never a fallback for users)."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from mcpguard.secrets.names import check_name, check_value


class MemoryStore:
    """Secrets in a dict, checked like the keyring store checks them.

    ``unavailable`` makes every value operation raise the given error, so a test can play a
    missing or locked keyring without touching the real one.
    """

    is_system = False
    description = "memory (tests)"

    def __init__(self, initial: Mapping[str, str] | None = None) -> None:
        self._values: dict[str, str] = {}
        self._lock = threading.Lock()
        self.unavailable: Exception | None = None
        for name, value in (initial or {}).items():
            self.set(name, value)

    def _check_available(self) -> None:
        if self.unavailable is not None:
            raise self.unavailable

    def get(self, name: str) -> str | None:
        self._check_available()
        return self._values.get(name)

    def set(self, name: str, value: str) -> None:
        check_name(name)
        check_value(value)
        self._check_available()
        with self._lock:
            self._values[name] = value

    def delete(self, name: str) -> bool:
        self._check_available()
        with self._lock:
            return self._values.pop(name, None) is not None

    def names(self) -> list[str]:
        return sorted(self._values)

    def setdefault(self, name: str, value: str) -> str:
        check_name(name)
        check_value(value)
        self._check_available()
        with self._lock:
            return self._values.setdefault(name, value)
