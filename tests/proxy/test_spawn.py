"""Starting the server: what the child gets (a session, default signals, only its own descriptors)."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from mcpguard.proxy import spawn as spawn_module
from mcpguard.proxy.spawn import Server, spawn, stop

pytestmark = pytest.mark.skipif(os.name != "posix", reason="posix_spawn and process groups")

PROBE = """
import json, os, signal, sys
status = open("/proc/self/status").read() if os.path.exists("/proc/self/status") else ""
ignored = next((int(l.split()[1], 16) for l in status.splitlines() if l.startswith("SigIgn:")), None)
print(json.dumps({
    "pid": os.getpid(),
    "sid": os.getsid(0),
    "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd")),
    "sigpipe_ignored_at_exec": None if ignored is None else bool(ignored & (1 << (signal.SIGPIPE - 1))),
    "stdin": sys.stdin.readline(),
}), flush=True)
"""


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _spawned(args: list[str]) -> Server:
    server = spawn(args, "probe")
    assert isinstance(server, Server)
    return server


def test_the_child_gets_a_session_its_pipes_and_nothing_else(tmp_path: object) -> None:
    import json

    inherited_r, inherited_w = os.pipe()
    os.set_inheritable(inherited_r, True)  # what a careless client could leave open for us
    try:
        server = _spawned([sys.executable, "-c", PROBE])
        assert server.stdin is not None
        os.write(server.stdin, b"hello\n")
        report = json.loads(_read_all(server.stdout))
        assert server.wait() == 0
    finally:
        os.close(inherited_r)
        os.close(inherited_w)
    assert report["pid"] == server.pid
    assert report["sid"] == server.pid  # a new session: its whole group can be signalled
    assert report["stdin"] == "hello\n"
    assert inherited_r not in report["fds"]
    assert report["fds"][:3] == [0, 1, 2]
    os.close(server.stdout)
    server.close_stdin()
    server.close_stdin()  # twice is fine


def test_sigpipe_is_default_in_the_child() -> None:
    server = _spawned(["sh", "-c", "grep SigIgn /proc/self/status 2>/dev/null || echo 'SigIgn: 0'"])
    line = _read_all(server.stdout).decode()
    assert server.wait() == 0
    mask = int(line.split()[1], 16)
    assert not mask & (1 << 12)  # SIGPIPE (13) is not ignored, as with subprocess.Popen(restore_signals=True)
    os.close(server.stdout)
    server.close_stdin()


def test_exit_status_and_signals_read_like_popen() -> None:
    server = _spawned(["sh", "-c", "exit 3"])
    assert server.wait() == 3 and server.returncode == 3
    sleeper = _spawned(["sleep", "30"])
    assert sleeper.wait(timeout=0.05) is None  # still running
    sleeper.signal_group(15)
    assert sleeper.wait(timeout=5) == -15
    for proc in (server, sleeper):
        os.close(proc.stdout)
        proc.close_stdin()


def test_a_timed_wait_sees_the_status_another_thread_reaped() -> None:
    server = _spawned(["sleep", "0.2"])
    waiter = threading.Thread(target=server.wait)
    waiter.start()
    assert server.wait(timeout=5) == 0
    waiter.join(timeout=5)
    os.close(server.stdout)
    server.close_stdin()


def test_stop_kills_the_whole_group() -> None:
    server = _spawned(["sh", "-c", "sleep 30 & wait"])
    stop(server)
    assert server.returncode == -9
    os.close(server.stdout)


@pytest.mark.parametrize(
    ("command", "status", "words"),
    [
        (["mcpguard-no-such-command-xyz"], 127, "command not found"),
        (["/etc/passwd"], 126, "permission denied"),
    ],
)
def test_a_server_that_cannot_start_gives_a_status_and_a_sentence(
    command: list[str], status: int, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert spawn(command, "probe") == status
    assert words in capsys.readouterr().err


def test_without_descriptor_listing_popen_does_the_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spawn_module, "_keep_descriptors_to_ourselves", _raise_fallback)
    server = _spawned(["sh", "-c", "read line; echo got $line; exit 4"])
    assert server.stdin is not None
    os.write(server.stdin, b"x\n")
    assert _read_all(server.stdout) == b"got x\n"
    assert server.wait() == 4
    assert server.wait(timeout=0.01) == 4
    os.close(server.stdout)
    server.close_stdin()


def _raise_fallback() -> None:
    raise spawn_module._Fallback
