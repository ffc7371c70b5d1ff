"""Real processes for the integration tests: the shim over raw pipes or the SDK's client, and the mcpguard CLI.

Everything here is bounded by time-outs: a test that waits for a message gets an assertion error
naming what it waited for, never a hang. The profile (``MCPGUARD_HOME``) is the one
``tests/conftest.py`` set for the test; subprocesses inherit it through ``os.environ``.
"""

from __future__ import annotations

import json
import os
import queue
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVERS = REPO_ROOT / "tests" / "servers"
PYTHON = sys.executable

GRACE_SECONDS = "1"
"""The shim's grace period in these tests: long enough for a polite server, short for a rude one."""

DEFAULT_TIMEOUT = 10.0

JsonObject = dict[str, Any]

INITIALIZE: JsonObject = {
    "protocolVersion": "2025-11-25",
    "capabilities": {},
    "clientInfo": {"name": "raw", "version": "1"},
}
"""The params of a raw client's ``initialize`` request."""


def server_path(name: str) -> str:
    return str(SERVERS / name)


def shim_argv(name: str, server_command: Sequence[str], *, client: str = "test") -> list[str]:
    """The command line an AI client would launch: the shim around ``server_command``."""
    return [PYTHON, "-m", "mcpguard", "run", "--name", name, "--client", client, "--", *server_command]


def subprocess_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("MCPGUARD_GRACE_SECONDS", GRACE_SECONDS)
    env.pop("MCPGUARD_LOG_LEVEL", None)
    if extra:
        env.update(extra)
    return env


@contextmanager
def running_oauth_server() -> Iterator[str]:
    """``tests/servers/sdk_oauth.py`` on 127.0.0.1 (an SDK server with the SDK's authorization server); its MCP URL."""
    proc = subprocess.Popen(
        [PYTHON, server_path("sdk_oauth.py")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    try:
        assert selector.select(timeout=30), "the OAuth test server did not start within 30 s"
        line = proc.stdout.readline().decode()
        assert line.startswith("READY "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}/mcp"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        proc.stdout.close()


def fake_browser_env(folder: Path) -> dict[str, str]:
    """``fake_browser.py`` as ``BROWSER``, logging each URL it was given to ``FAKE_BROWSER_LOG``.

    Apart from :func:`signin_env` so that a sign-in against a real keyring (the benchmark's) uses
    the very same browser stand-in.
    """
    browser = folder / "browser"  # webbrowser runs BROWSER as one program: no arguments in it
    browser.write_text(f'#!/bin/sh\nexec "{PYTHON}" "{server_path("fake_browser.py")}" "$@"\n')
    browser.chmod(0o755)
    return {
        "MCPGUARD_SIGNIN_TIMEOUT": "20",
        "BROWSER": str(browser),
        "FAKE_BROWSER_LOG": str(folder / "browser.log"),
    }


def signin_env(tmp_path: Path) -> dict[str, str]:
    """What a bridge that signs in needs in the tests: a file keyring, and ``fake_browser.py`` as ``BROWSER``.

    The browser stand-in logs each URL it was given to ``FAKE_BROWSER_LOG``.
    """
    return {
        **fake_browser_env(tmp_path),
        "PYTHON_KEYRING_BACKEND": "tests.servers.file_keyring.Keyring",
        "FILE_KEYRING_PATH": str(tmp_path / "keyring.json"),
        "PYTHONPATH": str(REPO_ROOT),
    }


KEYRING_PASSWORD = "keyring-test-password"
"""The password of the login keyring a :class:`SecretServiceSession` creates and unlocks."""

SECRET_SERVICE_TOOLS = ("dbus-run-session", "gnome-keyring-daemon")


def missing_secret_service_tools() -> list[str]:
    """The programs a real Secret Service session needs that are not installed (empty when all are)."""
    import shutil

    return [tool for tool in SECRET_SERVICE_TOOLS if shutil.which(tool) is None]


class SecretServiceSession:
    """A private machine for a real Secret Service: HOME, XDG_RUNTIME_DIR and an mcpguard profile.

    gnome-keyring-daemon runs in a private D-Bus session (``dbus-run-session``) with a fresh
    ``HOME`` and ``XDG_RUNTIME_DIR``, so neither a developer's keyring nor a CI runner's session is
    ever touched; ``gnome-keyring-daemon --unlock --components=secrets`` creates and unlocks a new
    login keyring, and the daemon exits with the session bus. Unix socket paths are limited to
    about 100 bytes, so ``root`` should be a short temp directory rather than pytest's long
    ``tmp_path``. Shared by the keyring tests and ``tests/bench/bench_remote.py``.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "h"
        self.runtime = root / "r"
        self.profile = root / "p"
        for folder in (self.home, self.runtime):
            folder.mkdir(mode=0o700)

    def env(self) -> dict[str, str]:
        """This process's environment without any desktop session of its own, pointed at this machine."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "DBUS_", "GNOME_KEYRING"))}
        for name in ("PYTHON_KEYRING_BACKEND", "DISPLAY", "WAYLAND_DISPLAY"):  # no display: unlock prompts fail fast
            env.pop(name, None)
        env.update(
            HOME=str(self.home),
            XDG_RUNTIME_DIR=str(self.runtime),
            MCPGUARD_HOME=str(self.profile),
            KEYRING_PW=KEYRING_PASSWORD,
            PYTHONPATH=str(REPO_ROOT),
        )
        return env

    def argv(self, shell_command: str, *, unlock: bool = True, dbus: bool = True) -> list[str]:
        """The command line running ``shell_command`` in a new session (keyring unlocked unless told)."""
        inner = (
            f'echo -n "$KEYRING_PW" | gnome-keyring-daemon --unlock --components=secrets >/dev/null && {shell_command}'
            if unlock
            else shell_command
        )
        return ["dbus-run-session", "--", "sh", "-c", inner] if dbus else ["sh", "-c", inner]

    @contextmanager
    def running(self, timeout: float = 30.0) -> Iterator[dict[str, str]]:
        """Keep a session with an unlocked keyring open; yields :meth:`env` with its bus address.

        For processes started one by one (a benchmark's): the session lives until the block ends,
        when its shell's stdin closes, ``dbus-run-session`` ends the bus and the daemon with it.
        """
        proc = subprocess.Popen(
            self.argv('echo "BUS $DBUS_SESSION_BUS_ADDRESS" && exec cat >/dev/null'),
            env=self.env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert proc.stdin is not None and proc.stdout is not None
        try:
            selector = selectors.DefaultSelector()
            selector.register(proc.stdout, selectors.EVENT_READ)
            line = proc.stdout.readline().decode() if selector.select(timeout=timeout) else ""
            selector.close()
            if not line.startswith("BUS ") or not line.split(maxsplit=1)[1:]:
                raise AssertionError(f"the D-Bus session with gnome-keyring did not start (it said {line!r})")
            yield {**self.env(), "DBUS_SESSION_BUS_ADDRESS": line.split(maxsplit=1)[1].strip()}
        finally:
            proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            proc.stdout.close()


def run_cli(*args: str, timeout: float = 30.0, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``mcpguard ARGS...`` in a subprocess with the test's profile; fails the test on a non-zero exit."""
    proc = subprocess.run(
        [PYTHON, "-m", "mcpguard", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=subprocess_env(),
        stdin=subprocess.DEVNULL,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"mcpguard {' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def approve(name: str, *items: str, all_items: bool = False) -> str:
    args = ["pins", "approve", name, *items]
    if all_items:
        args.append("--all")
    return run_cli(*args).stdout


def pins() -> list[JsonObject]:
    doc: list[JsonObject] = json.loads(run_cli("pins", "list", "--json").stdout)
    return doc


def pin_items(server: str) -> dict[tuple[str, str], JsonObject]:
    """(kind, name) -> item of ``pins list --json`` for one server."""
    for entry in pins():
        if entry["server"] == server:
            return {(item["kind"], item["name"]): item for item in entry["items"]}
    raise AssertionError(f"pins list has no server {server!r}")


def call_log(server: str | None = None) -> list[JsonObject]:
    args = ["log", "--json", "--limit", "0"]
    if server is not None:
        args += ["--server", server]
    out = run_cli(*args).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


def wait_for_log(server: str, count: int, timeout: float = 5.0) -> list[JsonObject]:
    """The shim writes the call log off the hot path (a few times a second): wait for ``count`` rows."""
    rows: list[JsonObject] = []

    def enough() -> bool:
        nonlocal rows
        rows = call_log(server)
        return len(rows) >= count

    wait_for(enough, timeout, f"{count} call-log rows for {server}", interval=0.25)
    return rows


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):  # gone before the open, or between the open and the read
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (Linux /proc), children first."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children", encoding="ascii") as f:
                    children = [int(c) for c in f.read().split()]
            except (FileNotFoundError, ProcessLookupError):
                continue
            found += children
            todo += children
    return found


def kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Shim:
    """``mcpguard run`` as a subprocess, spoken to in raw newline-delimited JSON-RPC.

    A reader thread turns the shim's stdout into a queue of lines, so every receive has a
    time-out; stderr goes to a file the test can read (``stderr_text``).
    """

    def __init__(
        self,
        name: str,
        server_command: Sequence[str],
        *,
        workdir: Path,
        client: str = "test",
        env: Mapping[str, str] | None = None,
        argv: Sequence[str] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv) if argv is not None else shim_argv(name, server_command, client=client)
        workdir.mkdir(parents=True, exist_ok=True)
        self.stderr_path = workdir / f"shim-{name}-{time.monotonic_ns()}.stderr"
        self._stderr = open(self.stderr_path, "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=subprocess_env(env),
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin: IO[bytes] = self.proc.stdin
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self._reader.start()
        self._ids = iter(range(1, 1_000_000))
        self.notifications: list[JsonObject] = []
        """Notifications that arrived while waiting for something else."""
        self.stray: list[JsonObject] = []
        """Responses to other ids that arrived while waiting for one."""
        self._known_pids: set[int] = set()

    def _read(self, stream: IO[bytes]) -> None:
        try:
            while True:
                line = stream.readline()
                if not line:
                    break
                self._lines.put(line)
        except (OSError, ValueError):
            pass
        self._lines.put(None)

    # -- sending ---------------------------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        self.remember_pids()
        self.stdin.write(data)
        self.stdin.flush()

    def send(self, message: Any) -> None:
        self.send_raw(json.dumps(message, ensure_ascii=False).encode("utf-8") + b"\n")

    def next_id(self) -> int:
        return next(self._ids)

    def notify(self, method: str, params: JsonObject | None = None) -> None:
        message: JsonObject = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def request(self, method: str, params: JsonObject | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> JsonObject:
        """Send a request and return its response (result or error), keeping what else arrives."""
        msg_id = self.next_id()
        message: JsonObject = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        return self.response(msg_id, timeout=timeout)

    def result(self, method: str, params: JsonObject | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> JsonObject:
        response = self.request(method, params, timeout=timeout)
        assert "result" in response, f"{method} failed: {response}"
        result: JsonObject = response["result"]
        return result

    def initialize(self, *, version: str = "2025-11-25") -> JsonObject:
        result = self.result(
            "initialize",
            {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "raw-test-client", "version": "1"}},
        )
        self.notify("notifications/initialized")
        return result

    def list_tools(self, cursor: str | None = None) -> JsonObject:
        return self.result("tools/list", {"cursor": cursor} if cursor is not None else {})

    def tool_names(self) -> list[str]:
        return [t["name"] for t in self.list_tools()["tools"]]

    def call(self, name: str, arguments: JsonObject | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> JsonObject:
        return self.request("tools/call", {"name": name, "arguments": arguments or {}}, timeout=timeout)

    def close_stdin(self) -> None:
        self.remember_pids()
        try:
            self.stdin.close()
        except OSError:
            pass

    # -- receiving -------------------------------------------------------------------------------

    def recv_raw(self, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """The next line the shim wrote (with its newline); fails on time-out or EOF."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"no message from the shim within {timeout:.1f}s; stderr:\n{self.stderr_text()}"
            ) from None
        if line is None:
            self._lines.put(None)
            raise AssertionError(f"the shim closed its stdout; stderr:\n{self.stderr_text()}")
        return line

    def recv(self, timeout: float = DEFAULT_TIMEOUT) -> JsonObject:
        message: JsonObject = json.loads(self.recv_raw(timeout))
        return message

    def response(self, msg_id: Any, *, timeout: float = DEFAULT_TIMEOUT) -> JsonObject:
        """Wait for the response to ``msg_id``; notifications and other responses are kept aside."""
        deadline = time.monotonic() + timeout
        while True:
            message = self.recv(max(0.0, deadline - time.monotonic()))
            if "method" not in message and message.get("id") == msg_id:
                return message
            if "method" in message and "id" not in message:
                self.notifications.append(message)
            else:
                self.stray.append(message)

    def wait_notification(self, method: str, *, timeout: float = 3.0) -> JsonObject:
        """A notification of ``method``, already received or arriving within ``timeout``."""
        for i, note in enumerate(self.notifications):
            if note.get("method") == method:
                return self.notifications.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {method} within {timeout:.1f}s (saw {self.notifications})")
            try:
                message = self.recv(remaining)
            except AssertionError:
                raise AssertionError(f"no {method} within {timeout:.1f}s (saw {self.notifications})") from None
            if message.get("method") == method and "id" not in message:
                return message
            if "method" in message and "id" not in message:
                self.notifications.append(message)
            else:
                self.stray.append(message)

    def drain_notifications(self, settle: float = 0.3) -> list[JsonObject]:
        """Collect what arrives within ``settle`` seconds (plus what was kept), and forget it."""
        deadline = time.monotonic() + settle
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                self._lines.put(None)
                break
            message = json.loads(line)
            (self.notifications if "id" not in message else self.stray).append(message)
        notes, self.notifications = self.notifications, []
        return notes

    # -- life cycle ------------------------------------------------------------------------------

    def remember_pids(self) -> None:
        """Note the shim's descendants (the server), so close() can reap them whatever happens."""
        self._known_pids.update(descendants(self.proc.pid))

    def server_pids(self) -> list[int]:
        return descendants(self.proc.pid)

    def wait(self, timeout: float = DEFAULT_TIMEOUT) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the shim did not exit within {timeout:.1f}s; stderr:\n{self.stderr_text()}"
            ) from None

    def stderr_text(self) -> str:
        try:
            self._stderr.flush()
        except ValueError:
            pass
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def close(self) -> None:
        """End the shim and anything it started, whatever state the test left it in."""
        self.remember_pids()
        if self.proc.poll() is None:
            self.close_stdin()
            try:
                self.proc.wait(timeout=float(GRACE_SECONDS) * 2 + 3)
            except subprocess.TimeoutExpired:
                self.remember_pids()
                kill_quietly(self.proc.pid)
                self.proc.wait(timeout=5)
        for pid in self._known_pids:
            if pid_alive(pid):
                kill_quietly(pid)
        self._reader.join(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        self._stderr.close()


def text_of(call_result: JsonObject) -> str:
    """The text of a CallToolResult's first content block."""
    content = call_result["content"]
    assert content and content[0]["type"] == "text", call_result
    text: str = content[0]["text"]
    return text
