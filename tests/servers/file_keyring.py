"""A keyring backend for the integration tests of the remote bridge: a JSON file, named by ``FILE_KEYRING_PATH``.

Selected with ``PYTHON_KEYRING_BACKEND=tests.servers.file_keyring.Keyring`` (the repository root on
``PYTHONPATH``), so a bridge in a subprocess keeps its tokens across restarts without touching the
developer's keyring. Its priority is 1 so mcpguard accepts it; never use it outside tests.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend


class Keyring(KeyringBackend):
    priority = 1

    def _path(self) -> Path:
        return Path(os.environ["FILE_KEYRING_PATH"])

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self._path().read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return {str(k): str(v) for k, v in data.items()}

    def get_password(self, service: str, username: str) -> str | None:
        return self._read().get(f"{service}\x00{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._read()
        data[f"{service}\x00{username}"] = password
        self._path().write_text(json.dumps(data), encoding="utf-8")

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        data = self._read()
        if data.pop(f"{service}\x00{username}", None) is None:
            raise PasswordDeleteError(username)
        self._path().write_text(json.dumps(data), encoding="utf-8")
