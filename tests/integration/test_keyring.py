"""The secret store against a real Secret Service: gnome-keyring-daemon in a private D-Bus session.

Each test starts ``dbus-run-session`` with a fresh ``HOME`` and ``XDG_RUNTIME_DIR`` (so neither a
developer's keyring nor a CI runner's session is ever touched), unlocks a new login keyring with
``gnome-keyring-daemon --unlock --components=secrets``, and runs Python in that session; the daemon
exits with the session bus. What the Python side saw comes back as JSON on stdout.

Without ``dbus-run-session`` or ``gnome-keyring-daemon`` the tests are skipped with the reason,
unless ``MCPGUARD_REQUIRE_KEYRING=1`` (CI), which turns the skip into a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.helpers import SecretServiceSession, missing_secret_service_tools

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "clients"
TOKEN = "ghp_" + "K9m8N7b6V5" * 3 + "c4X3z2"


def _require_tools() -> None:
    missing = missing_secret_service_tools()
    if not missing:
        return
    reason = (
        f"a real Secret Service needs {' and '.join(missing)} "
        "(Debian/Ubuntu: apt-get install dbus gnome-keyring, or run `bash .ci/setup`)"
    )
    if os.environ.get("MCPGUARD_REQUIRE_KEYRING") == "1":
        pytest.fail(f"MCPGUARD_REQUIRE_KEYRING=1 but {reason}")
    pytest.skip(reason)


class Session(SecretServiceSession):
    """A private machine for one test (see :class:`~tests.integration.helpers.SecretServiceSession`)."""

    def run(self, *scripts: str, unlock: bool = True, dbus: bool = True, timeout: float = 120) -> list[Any]:
        """Run each Python script in turn inside one session; the JSON each prints last, in order."""
        files = []
        for i, script in enumerate(scripts):
            path = self.root / f"s{i}.py"
            path.write_text(textwrap.dedent(script), encoding="utf-8")
            files.append(path)
        python = " && ".join(f'"$PY" {f}' for f in files)
        env = self.env()
        env["PY"] = sys.executable
        argv = self.argv(python, unlock=unlock, dbus=dbus)
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
        lines = [line for line in proc.stdout.splitlines() if line.startswith(("{", "["))]
        if proc.returncode != 0 or len(lines) != len(scripts):
            pytest.fail(f"the keyring session failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr[-3000:]}")
        return [json.loads(line) for line in lines]


@pytest.fixture
def session() -> Iterator[Session]:
    _require_tools()
    root = Path(tempfile.mkdtemp(prefix="mg-kr-"))
    try:
        yield Session(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_store_round_trip_in_the_secret_service(session: Session) -> None:
    write, read = session.run(
        f"""
        import json, os, stat
        from mcpguard.secrets.keyring_store import KeyringStore
        store = KeyringStore(os.environ["MCPGUARD_HOME"])
        store.set("github/GITHUB_TOKEN", {TOKEN!r})
        store.set("notes/NOTES_PASSWORD", "pässwörd with spaces ✓")
        store.set("gone/TOKEN", "to-be-deleted")
        deleted = store.delete("gone/TOKEN")
        index = os.path.join(os.environ["MCPGUARD_HOME"], "secrets-index.json")
        text = open(index, encoding="utf-8").read()
        print(json.dumps({{
            "backend": type(store.backend()).__module__,
            "description": store.description,
            "deleted": deleted,
            "index_mode": oct(stat.S_IMODE(os.stat(index).st_mode)),
            "value_in_index": {TOKEN!r} in text,
        }}))
        """,
        """
        import json, os
        from mcpguard.secrets.keyring_store import KeyringStore
        store = KeyringStore(os.environ["MCPGUARD_HOME"])  # a new process: only the keyring remembers values
        print(json.dumps({
            "names": store.names(),
            "token": store.get("github/GITHUB_TOKEN"),
            "password": store.get("notes/NOTES_PASSWORD"),
            "gone": store.get("gone/TOKEN"),
        }))
        """,
    )
    assert write == {
        "backend": "keyring.backends.SecretService",
        "description": "Secret Service",
        "deleted": True,
        "index_mode": "0o600",
        "value_in_index": False,
    }
    assert read == {
        "names": ["github/GITHUB_TOKEN", "notes/NOTES_PASSWORD"],
        "token": TOKEN,
        "password": "pässwörd with spaces ✓",
        "gone": None,
    }


@pytest.mark.parametrize("through", ["libsecret", "secretstorage"])
def test_a_read_in_a_new_process_skips_the_keyring_library(session: Session, through: str) -> None:
    """The quick reads (secrets/libsecret.py, then secrets/secret_service.py) find what keyring wrote.

    libsecret answers when it is installed (gnome-keyring brings it); without it, secretstorage
    does. keyring is imported by neither.
    """
    without = "libnothing-here.so.0" if through == "secretstorage" else None
    _, read = session.run(
        f"""
        import json, os
        from mcpguard.secrets.keyring_store import KeyringStore
        KeyringStore(os.environ["MCPGUARD_HOME"]).set("github/GITHUB_TOKEN", {TOKEN!r})
        print("{{}}")
        """,
        f"""
        import json, os, sys
        from mcpguard.secrets import libsecret
        from mcpguard.secrets.keyring_store import KeyringStore
        if {without!r}:
            libsecret.LIBRARY = {without!r}
        store = KeyringStore(os.environ["MCPGUARD_HOME"])
        token, missing = store.get("github/GITHUB_TOKEN"), store.get("nobody/TOKEN")
        print(json.dumps({{
            "token": token,
            "missing": missing,
            "keyring": "keyring" in sys.modules,
            "secretstorage": "secretstorage" in sys.modules,
            "libsecret": "libsecret-1" in open("/proc/self/maps").read(),
        }}))
        """,
    )
    assert read["token"] == TOKEN and read["missing"] is None and read["keyring"] is False
    if through == "libsecret":
        assert read["libsecret"] is True
        assert read["token"] == TOKEN  # found by libsecret: the missing name alone went on to secretstorage
    else:
        assert read["libsecret"] is False and read["secretstorage"] is True


def test_libsecret_alone_reads_the_value_without_secretstorage(session: Session) -> None:
    """A found secret never reaches the Python path: neither secretstorage nor cryptography is imported."""
    (result,) = session.run(
        f"""
        import json, os, sys
        from mcpguard.secrets.keyring_store import KeyringStore
        KeyringStore(os.environ["MCPGUARD_HOME"]).set("github/GITHUB_TOKEN", {TOKEN!r})
        heavy = ("keyring", "secretstorage", "jeepney", "cryptography")
        for name in [m for m in sys.modules if m.split(".")[0] in heavy]:
            del sys.modules[name]
        from mcpguard.secrets import libsecret
        value = libsecret.lookup({{"service": "mcpguard", "username": "github/GITHUB_TOKEN"}})
        nothing = libsecret.lookup({{"service": "mcpguard", "username": "nobody/TOKEN"}})
        print(json.dumps({{"value": value, "nothing": nothing, "secretstorage": "secretstorage" in sys.modules}}))
        """
    )
    assert result == {"value": TOKEN, "nothing": None, "secretstorage": False}


def test_a_keyring_configuration_sends_the_read_through_keyring(session: Session) -> None:
    """keyringrc.cfg or KEYRING_PROPERTY_* may change where keyring looks: then keyring reads."""
    (result,) = session.run(
        f"""
        import json, os, sys
        from mcpguard.secrets.keyring_store import KeyringStore
        KeyringStore(os.environ["MCPGUARD_HOME"]).set("github/GITHUB_TOKEN", {TOKEN!r})
        folder = os.path.join(os.environ["HOME"], ".config", "python_keyring")
        os.makedirs(folder)
        with open(os.path.join(folder, "keyringrc.cfg"), "w") as f:
            f.write("[backend]\\ndefault-keyring=keyring.backends.SecretService.Keyring\\n")
        for name in [m for m in sys.modules if m == "keyring" or m.startswith("keyring.")]:
            del sys.modules[name]
        token = KeyringStore(os.environ["MCPGUARD_HOME"]).get("github/GITHUB_TOKEN")
        print(json.dumps({{"token": token, "keyring": "keyring" in sys.modules}}))
        """
    )
    assert result == {"token": TOKEN, "keyring": True}


def test_integrity_key_is_created_once_by_concurrent_processes(session: Session) -> None:
    script = """
        import json, os
        from mcpguard.secrets.integrity import integrity_key
        from mcpguard.secrets.keyring_store import KeyringStore
        print(json.dumps({"key": integrity_key(KeyringStore(os.environ["MCPGUARD_HOME"])).hex()}))
        """
    path = session.root / "key.py"
    path.write_text(textwrap.dedent(script), encoding="utf-8")
    together = f"""
        import json, os, subprocess, sys
        procs = [subprocess.Popen([sys.executable, {str(path)!r}], stdout=subprocess.PIPE, text=True) for _ in range(4)]
        keys = [json.loads(p.communicate(timeout=60)[0].strip().splitlines()[-1])["key"] for p in procs]
        print(json.dumps({{"keys": keys}}))
        """
    (result,) = session.run(together)
    keys = result["keys"]
    assert len(keys) == 4 and len(set(keys)) == 1
    assert len(bytes.fromhex(keys[0])) == 32


def test_cli_migrate_with_the_real_keyring(session: Session) -> None:
    config = session.home / ".claude.json"
    text = (FIXTURES / "claude.json").read_text(encoding="utf-8")
    config.write_text(
        text.replace(
            '"NOTES_DIR": "/home/ana/Notes"', f'"NOTES_DIR": "/home/ana/Notes",\n        "NOTES_TOKEN": "{TOKEN}"'
        ),
        encoding="utf-8",
    )
    (result,) = session.run(
        f"""
        import json, os, subprocess, sys
        from pathlib import Path
        def cli(*args):
            p = subprocess.run([sys.executable, "-m", "mcpguard", *args], capture_output=True, text=True,
                               stdin=subprocess.DEVNULL, timeout=60)
            return {{"code": p.returncode, "out": p.stdout, "err": p.stderr}}
        wrap = cli("wrap", "--all", "--yes")
        migrate = cli("secrets", "migrate", "--yes")
        listed = cli("secrets", "list", "--json")
        from mcpguard.secrets.inject import launch_environment
        launch = launch_environment(os.environ["MCPGUARD_HOME"], "notes", {{"PATH": "/usr/bin"}}, set())
        profile = Path(os.environ["MCPGUARD_HOME"])
        leftovers = [str(p) for p in profile.rglob("*") if p.is_file() and {TOKEN!r} in p.read_text("utf-8", "replace")]
        print(json.dumps({{
            "wrap": wrap, "migrate": migrate, "listed": listed,
            "config_has_token": {TOKEN!r} in Path(os.environ["HOME"], ".claude.json").read_text("utf-8"),
            "leftovers": leftovers,
            "injected": launch.env.get("NOTES_TOKEN") == {TOKEN!r},
        }}))
        """
    )
    assert result["wrap"]["code"] == 0, result["wrap"]["err"]
    migrate = result["migrate"]
    assert migrate["code"] == 0, migrate["err"]
    assert "Secrets go to the keyring (Secret Service)." in migrate["out"]
    assert "notes/NOTES_TOKEN" in migrate["out"]
    assert TOKEN not in migrate["out"] + migrate["err"]
    assert json.loads(result["listed"]["out"]) == [  # the first migration made the integrity key too
        {"name": "mcpguard/integrity-key", "server": "mcpguard", "variable": "integrity-key", "internal": True},
        {"name": "notes/NOTES_TOKEN", "server": "notes", "variable": "NOTES_TOKEN", "internal": False},
    ]
    assert result["config_has_token"] is False
    assert result["leftovers"] == []
    assert result["injected"] is True


def test_a_locked_keyring_is_secrets_unavailable(session: Session) -> None:
    (result,) = session.run(
        """
        import json, os
        import secretstorage
        from mcpguard.secrets.base import SecretsUnavailable
        from mcpguard.secrets.keyring_store import KeyringStore
        store = KeyringStore(os.environ["MCPGUARD_HOME"])
        store.set("github/GITHUB_TOKEN", "value-before-locking")
        bus = secretstorage.dbus_init()
        secretstorage.get_default_collection(bus).lock()
        try:
            store.get("github/GITHUB_TOKEN")
            print(json.dumps({"error": None}))
        except SecretsUnavailable as exc:
            print(json.dumps({"error": str(exc)}))
        """
    )
    assert result["error"] is not None
    assert result["error"].startswith("the keyring is locked")
    assert "gnome-keyring or KeePassXC" in result["error"]


def test_a_locked_keyring_stops_the_quick_read_too(session: Session) -> None:
    """A new process reading from a locked collection gets keyring's own sentence, and no value."""
    (result,) = session.run(
        """
        import json, os, subprocess, sys
        import secretstorage
        from mcpguard.secrets.keyring_store import KeyringStore
        KeyringStore(os.environ["MCPGUARD_HOME"]).set("github/GITHUB_TOKEN", "value-before-locking")
        secretstorage.get_default_collection(secretstorage.dbus_init()).lock()
        script = (
            "import json, os, sys\\n"
            "from mcpguard.secrets.base import SecretsUnavailable\\n"
            "from mcpguard.secrets.keyring_store import KeyringStore\\n"
            "try:\\n"
            "    print(json.dumps({'value': KeyringStore(os.environ['MCPGUARD_HOME']).get('github/GITHUB_TOKEN')}))\\n"
            "except SecretsUnavailable as exc:\\n"
            "    print(json.dumps({'error': str(exc), 'keyring': 'keyring' in sys.modules}))\\n"
        )
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True).stdout
        print(out.strip().splitlines()[-1])
        """
    )
    assert result.get("value") is None
    assert result["error"].startswith("the keyring is locked, so mcpguard cannot read a secret")
    assert result["keyring"] is False


def test_a_secret_service_that_cannot_be_unlocked(session: Session) -> None:
    """The daemon is D-Bus activated but nobody can type its password (no desktop): no fallback."""
    (result,) = session.run(
        """
        import json, os
        from mcpguard.secrets.base import SecretsUnavailable
        from mcpguard.secrets.keyring_store import KeyringStore
        try:
            KeyringStore(os.environ["MCPGUARD_HOME"]).set("github/GITHUB_TOKEN", "never-stored")
            print(json.dumps({"error": None}))
        except SecretsUnavailable as exc:
            index = os.path.join(os.environ["MCPGUARD_HOME"], "secrets-index.json")
            print(json.dumps({"error": str(exc), "index": os.path.exists(index)}))
        """,
        unlock=False,
    )
    assert result["error"] is not None
    assert "install and unlock a Secret Service" in result["error"]
    assert result["index"] is False


def test_no_dbus_session_at_all(session: Session) -> None:
    """A headless shell without a session bus: keyring falls back to ``fail``; mcpguard says what to do."""
    (result,) = session.run(
        """
        import json, os
        from mcpguard.secrets.base import SecretsUnavailable
        from mcpguard.secrets.keyring_store import KeyringStore
        try:
            KeyringStore(os.environ["MCPGUARD_HOME"]).get("github/GITHUB_TOKEN")
            print(json.dumps({"error": None}))
        except SecretsUnavailable as exc:
            print(json.dumps({"error": str(exc)}))
        """,
        unlock=False,
        dbus=False,
    )
    assert result["error"] is not None
    assert "install and unlock a Secret Service such as gnome-keyring or KeePassXC" in result["error"]
