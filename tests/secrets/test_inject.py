"""What the shim calls at launch: no keyring without secrets; secrets injected; failures fail closed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mcpguard.paths import AppPaths
from mcpguard.secrets import index
from mcpguard.secrets.base import SecretNotFound, SecretsUnavailable
from mcpguard.secrets.inject import format_env_keys, launch_environment, parse_env_keys, server_secrets
from mcpguard.secrets.memory import MemoryStore
from tests.secrets.conftest import GITHUB_TOKEN


def _folder(app_paths: AppPaths) -> str:
    return str(app_paths.home)


def test_no_secrets_means_no_store_is_touched(app_paths: AppPaths) -> None:
    store = MemoryStore()
    store.unavailable = SecretsUnavailable("must not be asked")
    assert server_secrets(_folder(app_paths), "github", store=store) == {}


def test_secrets_of_the_server_only(app_paths: AppPaths) -> None:
    store = MemoryStore({"github/GITHUB_TOKEN": GITHUB_TOKEN, "other/TOKEN": "other-value"})
    index.update(_folder(app_paths), add=store.names())
    assert server_secrets(_folder(app_paths), "github", store=store) == {"GITHUB_TOKEN": GITHUB_TOKEN}


def test_a_listed_secret_the_keyring_lost_fails_closed(app_paths: AppPaths) -> None:
    index.update(_folder(app_paths), add=["github/GITHUB_TOKEN"])
    with pytest.raises(SecretNotFound, match="mcpguard secrets set github GITHUB_TOKEN"):
        server_secrets(_folder(app_paths), "github", store=MemoryStore())


def test_a_locked_keyring_fails_closed(app_paths: AppPaths) -> None:
    index.update(_folder(app_paths), add=["github/GITHUB_TOKEN"])
    store = MemoryStore({"github/GITHUB_TOKEN": GITHUB_TOKEN})
    store.unavailable = SecretsUnavailable("the keyring is locked")
    with pytest.raises(SecretsUnavailable):
        launch_environment(_folder(app_paths), "github", {"PATH": "/bin"}, set(), store=store)


def test_launch_environment(app_paths: AppPaths) -> None:
    store = MemoryStore({"github/GITHUB_TOKEN": GITHUB_TOKEN})
    index.update(_folder(app_paths), add=store.names())
    parent = {"PATH": "/bin", "LOG_LEVEL": "debug", "SSH_AUTH_SOCK": "/s", "NODE_OPTIONS": "--require x"}
    launch = launch_environment(_folder(app_paths), "github", parent, {"LOG_LEVEL"}, store=store, platform="linux")
    assert launch.env == {"PATH": "/bin", "LOG_LEVEL": "debug", "GITHUB_TOKEN": GITHUB_TOKEN}
    assert launch.plan.stripped == ["NODE_OPTIONS"]
    assert launch.plan.injected == ["GITHUB_TOKEN"]
    assert launch.redactor().text(f"echo {GITHUB_TOKEN}") == "echo [redacted:github/GITHUB_TOKEN]"


def test_env_keys_round_trip() -> None:
    assert format_env_keys(["B", "A", "A"]) == "A,B"
    assert parse_env_keys("A,B") == ["A", "B"]
    assert parse_env_keys("") == []
    assert parse_env_keys(" A , ,B ") == ["A", "B"]


def _probe(app_paths: AppPaths, server: str) -> dict[str, object]:
    """Run the launch path in a fresh interpreter, as the shim would, and report what it imported."""
    code = (
        "import json, os, sys\n"
        "from mcpguard.secrets.inject import launch_environment\n"
        "try:\n"
        f"    launch = launch_environment(os.environ['MCPGUARD_HOME'], {server!r}, {{'PATH': '/bin'}}, set())\n"
        "    result = sorted(launch.env)\n"
        "except Exception as exc:\n"
        "    result = type(exc).__name__ + ': ' + str(exc)\n"
        "heavy = [m for m in ('keyring', 'typing', 're', 'dataclasses', 'pathlib') if m in sys.modules]\n"
        "print(json.dumps({'result': result, 'heavy': heavy}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    doc: dict[str, object] = json.loads(out.stdout)
    return doc


def test_the_launch_path_of_a_server_without_secrets_imports_nothing_heavy(app_paths: AppPaths) -> None:
    index.update(_folder(app_paths), add=["someone-else/TOKEN"])
    doc = _probe(app_paths, "github")
    assert doc["result"] == ["PATH"]
    assert "keyring" not in doc["heavy"]  # type: ignore[operator]


def test_a_server_with_secrets_opens_the_keyring(app_paths: AppPaths) -> None:
    """Here (no Secret Service in the test run) that ends in the install hint, never a plaintext fallback."""
    index.update(_folder(app_paths), add=["github/GITHUB_TOKEN"])
    doc = _probe(app_paths, "github")
    assert "keyring" in doc["heavy"]  # type: ignore[operator]
    result = doc["result"]
    if isinstance(result, str):  # no keyring here: the shim must not start the server
        assert result.startswith(("SecretsUnavailable", "SecretNotFound"))
