"""``mcpguard run`` with secrets: injected before the server starts, fail closed, scrubbed from stderr and the log."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from mcpguard import cli
from mcpguard.audit import ArgumentsText, CallRecord
from mcpguard.paths import AppPaths
from mcpguard.proxy import shim as shim_module
from mcpguard.proxy.spawn import Server, spawn
from mcpguard.proxy.stderr_filter import relay_redacted
from mcpguard.secrets import index, keyring_store
from mcpguard.secrets.keyring_store import KeyringStore
from mcpguard.secrets.redact import Redactor
from tests.secrets.conftest import GITHUB_TOKEN, FakeBackend

pytestmark = pytest.mark.skipif(os.name != "posix", reason="posix pipes and fds")

SERVER = """
import json, os, sys
sys.stderr.write("token is " + os.environ.get("GITHUB_TOKEN", "<none>") + "\\n")
sys.stderr.flush()
with open(sys.argv[1], "w") as f:
    json.dump(dict(os.environ), f)
"""


@pytest.fixture
def keyring_secret(
    monkeypatch: pytest.MonkeyPatch, app_paths: AppPaths, keyring_with_fake: KeyringStore
) -> KeyringStore:
    """``github/GITHUB_TOKEN`` in the fake keyring, which ``mcpguard run`` opens as the OS keyring."""
    keyring_with_fake.set("github/GITHUB_TOKEN", GITHUB_TOKEN)
    monkeypatch.setattr(keyring_store, "KeyringStore", lambda folder: keyring_with_fake)
    return keyring_with_fake


def _run_until_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replace the relay with a plain wait: these tests are about what happens around the server."""
    monkeypatch.setattr(shim_module.Shim, "run", lambda self: self._proc.wait())


def test_parse_run_reads_env_keys() -> None:
    assert cli._parse_run(["--name", "a", "--env-keys", "B,A", "--", "x"]) == ("a", "unknown", ["x"], ["B", "A"])
    assert cli._parse_run(["--name", "a", "--env-keys=", "--", "x"]) == ("a", "unknown", ["x"], [])
    assert cli._parse_run(["--name", "a", "--", "x"]) == ("a", "unknown", ["x"], None)


def test_the_argparse_run_parser_takes_env_keys_too(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[object] = []

    def fake_run(*args: object) -> int:
        seen.append(args)
        return 0

    monkeypatch.setattr(cli, "_run", fake_run)
    assert cli.main(["run", "--env-keys", "A", "--name", "a", "--client", "c", "--", "x"]) == 0
    assert seen == [("a", "c", ["x"], ["A"])]


def test_a_secret_is_injected_and_scrubbed_from_the_servers_stderr(
    keyring_secret: KeyringStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    _run_until_exit(monkeypatch)
    monkeypatch.setenv("SSH_AUTH_SOCK", "/run/agent")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("LD_PRELOAD", "/tmp/evil.so")
    report = tmp_path / "env.json"
    code = cli.main(["run", "--name", "github", "--env-keys", "LOG_LEVEL,LD_PRELOAD", "--", sys.executable, "-c",
                     SERVER, str(report)])  # fmt: skip
    assert code == 0
    env = json.loads(report.read_text())
    assert env["GITHUB_TOKEN"] == GITHUB_TOKEN
    assert env["LOG_LEVEL"] == "debug"
    assert "SSH_AUTH_SOCK" not in env and "LD_PRELOAD" not in env
    import time

    deadline = time.monotonic() + 5
    err = ""
    while "token is" not in err and time.monotonic() < deadline:  # the relay thread may still be writing
        time.sleep(0.02)
        err += capfd.readouterr().err
    assert "token is [redacted:github/GITHUB_TOKEN]" in err
    assert GITHUB_TOKEN not in err


def test_a_secret_the_keyring_cannot_give_fails_closed(
    app_paths: AppPaths,
    keyring_secret: KeyringStore,
    fake_backend: FakeBackend,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from keyring.errors import KeyringLocked

    fake_backend.error = KeyringLocked("locked")
    marker = tmp_path / "started"
    code = cli.main(["run", "--name", "github", "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("mcpguard: cannot start the server 'github': ")
    assert not marker.exists()


def test_a_lost_secret_fails_closed(app_paths: AppPaths, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    index.update(str(app_paths.home), add=["github/GITHUB_TOKEN"])
    from mcpguard.secrets.memory import MemoryStore

    store = MemoryStore()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(keyring_store, "KeyringStore", lambda folder: store)
        marker = tmp_path / "started"
        code = cli.main(["run", "--name", "github", "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')"])
    assert code == 1
    assert "mcpguard secrets set github GITHUB_TOKEN" in capsys.readouterr().err
    assert not marker.exists()


def test_per_server_settings_pass_the_whole_environment_or_allow_names(
    app_paths: AppPaths, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run_until_exit(monkeypatch)
    monkeypatch.setenv("SSH_AUTH_SOCK", "/run/agent")
    monkeypatch.setenv("NODE_OPTIONS", "--max-old-space-size=4096")
    monkeypatch.setenv("DISPLAY", ":0")
    assert cli.main(["settings", "env_passthrough:fs", "on"]) == 0
    assert cli.main(["settings", "env_allow:fs", "NODE_OPTIONS"]) == 0
    assert cli.main(["settings", "env_passthrough:fs", "maybe"]) == 1
    report = tmp_path / "env.json"
    assert cli.main(["run", "--name", "fs", "--env-keys", "", "--", sys.executable, "-c", SERVER, str(report)]) == 0
    env = json.loads(report.read_text())
    assert env["SSH_AUTH_SOCK"] == "/run/agent" and env["NODE_OPTIONS"] == "--max-old-space-size=4096"
    assert cli.main(["run", "--name", "other", "--env-keys", "", "--", sys.executable, "-c", SERVER,
                     str(report)]) == 0  # fmt: skip
    env = json.loads(report.read_text())
    assert "SSH_AUTH_SOCK" not in env and "NODE_OPTIONS" not in env and "DISPLAY" not in env
    out = capsys.readouterr().out
    assert "env_allow:fs = NODE_OPTIONS" in out


def test_spawn_passes_the_given_environment_and_stderr(tmp_path: Path) -> None:
    read_fd, write_fd = os.pipe()
    server = spawn([sys.executable, "-c", "import os, sys; sys.stderr.write(os.environ['ONLY'])"], "probe",
                   {"ONLY": "this", "PATH": os.environ["PATH"]}, stderr_fd=write_fd)  # fmt: skip
    os.close(write_fd)
    assert isinstance(server, Server)
    assert server.wait() == 0
    assert os.read(read_fd, 100) == b"this"
    os.close(read_fd)
    os.close(server.stdout)
    server.close_stdin()


def test_the_popen_fallback_passes_the_environment_and_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "posix_spawnp")
    test_spawn_passes_the_given_environment_and_stderr(Path())


def test_the_stderr_relay_scrubs_lines_split_across_reads() -> None:
    src_r, src_w = os.pipe()
    dst_r, dst_w = os.pipe()
    half = len(GITHUB_TOKEN) // 2
    os.write(src_w, f"a {GITHUB_TOKEN[:half]}".encode())
    os.write(src_w, f"{GITHUB_TOKEN[half:]} b\nno newline at the end".encode())
    os.close(src_w)
    relay_redacted(src_r, dst_w, lambda: Redactor.for_server({"T": GITHUB_TOKEN}, None, "gh"))
    os.close(dst_w)
    assert os.read(dst_r, 1000) == b"a [redacted:gh/T] b\nno newline at the end"
    os.close(dst_r)


def test_the_shim_scrubs_records_before_they_are_logged() -> None:
    class Audit:
        def __init__(self) -> None:
            self.records: list[CallRecord] = []

        def append(self, client: str, server: str, records: list[CallRecord]) -> None:
            self.records += records

    class Session:
        client, name = "c", "gh"
        audit = [
            CallRecord(1.0, "t", {"q": GITHUB_TOKEN}, 1.0, "error", detail=f"failed with {GITHUB_TOKEN}",
                       findings=[{"excerpt": GITHUB_TOKEN}]),
            CallRecord(2.0, "t", ArgumentsText(json.dumps({"q": GITHUB_TOKEN})), 1.0, "ok"),
            CallRecord(3.0, "t", {"q": "nothing"}, 1.0, "ok"),
        ]  # fmt: skip
        finished: list[object] = []
        finished_bytes = 0

    class Pipeline:
        session = Session()

    class Proc:
        args = ["x"]

    built: list[int] = []

    def make() -> Redactor:
        built.append(1)
        return Redactor.for_server({"T": GITHUB_TOKEN}, None, "gh")

    audit = Audit()
    shim = shim_module.Shim(Pipeline(), audit, Proc(), grace=0, redactor=make)  # type: ignore[arg-type]
    shim._flush_audit()
    shim._flush_audit()
    assert built == [1]
    first, second, third = audit.records
    assert first.arguments == {"q": "[redacted:gh/T]"}
    assert first.detail == "failed with [redacted:gh/T]"
    assert first.findings == [{"excerpt": "[redacted:gh/T]"}]
    assert isinstance(second.arguments, ArgumentsText) and GITHUB_TOKEN not in second.arguments
    assert third.arguments == {"q": "nothing"}
