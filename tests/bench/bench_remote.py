"""Benchmark: a tool call through ``mcpguard remote`` against the same loopback server called directly.

Run from the repository root::

    .venv/bin/python tests/bench/bench_remote.py                     # full run (about a minute)
    .venv/bin/python tests/bench/bench_remote.py --quick             # smoke run
    .venv/bin/python tests/bench/bench_remote.py --only auth-start   # one part (calls, startup, auth-start)

The server is ``tests/servers/sdk_http.py`` (the official SDK's ``MCPServer`` behind uvicorn) on
127.0.0.1, once answering with SSE streams (the SDK's default) and once with JSON bodies. In each
mode the same ``tools/call`` (``echo`` with 1 KiB of text) is timed, interleaved call by call, from
an httpx client that speaks Streamable HTTP to the server itself and through a running
``mcpguard remote`` whose tools were approved beforehand (so the guarded path is the one users live
on). The figure that matters is the difference of the medians: what the bridge adds.

Start-up is the time from spawning ``mcpguard remote`` to its answer to ``initialize`` (which
includes one HTTP round trip to the server), without authorization.

Start-up with a cached token (``auth-start``) is the same time against ``tests/servers/sdk_oauth.py``
(an SDK server behind the SDK's authorization server), after one sign-in through
``tests/servers/fake_browser.py`` as ``BROWSER``, with the tokens in a real OS keyring: the Secret
Service of gnome-keyring-daemon in a private D-Bus session, unlocked, as the keyring tests run it
(``SecretServiceSession`` in ``tests/integration/helpers.py``). It checks that the timed starts
signed in nowhere (no browser launch, no new authorization at the server) and that the token is an
item of the Secret Service. Without ``dbus-run-session`` and ``gnome-keyring-daemon`` the part is
skipped, unless ``MCPGUARD_REQUIRE_KEYRING=1``. Between the timed starts it also times a Python that
only imports the libraries a bridge needs (httpx, httpcore, h11) and loads libsecret: not a target,
but the floor of any bridge built on them, and a gauge of how fast the machine was during the run.

Children start with a private bytecode cache (``PYTHONPYCACHEPREFIX`` in the run's temp directory,
``PYTHONDONTWRITEBYTECODE`` dropped), as an installed mcpguard runs from compiled bytecode;
``--inherit-env`` passes this process's ``PYTHON*`` variables through instead.

This is a script that prints figures, not a pytest test (pytest does not collect ``bench_*.py``).
It exits 0 when every target passes, 1 when one fails, 2 on a harness error.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.integration.helpers import (  # noqa: E402
    SecretServiceSession,
    fake_browser_env,
    missing_secret_service_tools,
    running_oauth_server,
)

SERVER = ROOT / "tests" / "servers" / "sdk_http.py"
VERSION = "2025-11-25"
TEXT = "x" * 1024
TARGET_ADDED_MS = 2.0
TARGET_STARTUP_MS = 300.0
TIMEOUT = 30.0
PARTS = ("calls", "startup", "auth-start")
TOKENS_ITEM = "remote/{name}/OAUTH_TOKENS"
"""The keyring user name of a remote server's tokens (service ``mcpguard``), as ``mcpguard.remote.oauth.tokens``."""


class HarnessError(Exception):
    """The benchmark could not measure."""


def initialize(msg_id: int = 1) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": msg_id,
        "method": "initialize",
        "params": {"protocolVersion": VERSION, "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}},
    }


def call(msg_id: int) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": msg_id,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"text": TEXT}},
    }


class Server:
    def __init__(self, workdir: Path, *args: str) -> None:
        self._err = open(workdir / f"server{'-'.join(args)}.stderr", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVER), "--port", "0", *args], stdout=subprocess.PIPE, stderr=self._err
        )
        assert self.proc.stdout is not None
        if not select.select([self.proc.stdout], [], [], TIMEOUT)[0]:
            raise HarnessError("the SDK server did not start")
        line = self.proc.stdout.readline().decode()
        if not line.startswith("READY "):
            raise HarnessError(f"the SDK server said {line!r}")
        self.url = f"http://127.0.0.1:{line.split()[1]}/mcp"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self._err.close()


class Direct:
    """A bare Streamable HTTP client on httpx: what an HTTP-capable AI client does without the guard."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(timeout=TIMEOUT)
        self.headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        response = self.http.post(url, content=json.dumps(initialize()), headers=self.headers)
        self.headers["Mcp-Session-Id"] = response.headers["mcp-session-id"]
        self.headers["MCP-Protocol-Version"] = VERSION
        self.http.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=self.headers)

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(self.url, content=json.dumps(message).encode(), headers=self.headers)
        if response.headers["content-type"].startswith("text/event-stream"):
            for line in response.text.splitlines():
                if line.startswith("data:") and line[5:].strip():
                    answer: dict[str, Any] = json.loads(line[5:])
                    if answer.get("id") == message["id"]:
                        return answer
            raise HarnessError("the server's stream had no answer")
        answer = response.json()
        return answer

    def close(self) -> None:
        self.http.close()


class Bridge:
    """``mcpguard remote URL`` spoken to over its pipes."""

    def __init__(self, url: str, name: str, env: dict[str, str], stderr: Any = subprocess.DEVNULL) -> None:
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mcpguard", "remote", url, "--name", name, "--client", "bench"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
            bufsize=0,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.out = self.proc.stdout.fileno()
        self.buf = b""

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")

    def answer(self, msg_id: int) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                message: dict[str, Any] = json.loads(line)
                if message.get("id") == msg_id and "method" not in message:
                    return message
            if not select.select([self.out], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise HarnessError("the bridge did not answer")
            data = os.read(self.out, 1 << 16)
            if not data:
                raise HarnessError(f"the bridge exited ({self.proc.wait()})")
            self.buf += data

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        self.send(message)
        return self.answer(message["id"])

    def handshake(self) -> None:
        answer = self.request(initialize())
        if "result" not in answer:
            raise HarnessError(f"initialize through the bridge failed: {answer}")
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[int(len(ordered) * 0.9)]
    return f"median {statistics.median(values) * 1000:6.3f} ms  p90 {p90 * 1000:6.3f} ms"


def approve(url: str, name: str, env: dict[str, str], stderr: Any = subprocess.DEVNULL) -> None:
    """The first start (which signs in where the server asks), then ``mcpguard pins approve NAME --all``."""
    first = Bridge(url, name, env, stderr=stderr)
    first.handshake()
    first.request({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    first.close()
    subprocess.run(
        [sys.executable, "-m", "mcpguard", "pins", "approve", name, "--all"], env=env, check=True, capture_output=True
    )


def bench_calls(label: str, url: str, name: str, env: dict[str, str], calls: int, warmup: int) -> float:
    approve(url, name, env)
    bridge = Bridge(url, name, env)
    bridge.handshake()
    tools = bridge.request({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})["result"]["tools"]
    if "echo" not in {t["name"] for t in tools}:
        raise HarnessError("echo is not approved")
    direct = Direct(url)
    direct_times: list[float] = []
    bridge_times: list[float] = []
    try:
        for i in range(warmup + calls):
            msg = call(100 + i)
            t0 = time.perf_counter()
            a = direct.request(msg)
            t1 = time.perf_counter()
            b = bridge.request(msg)
            t2 = time.perf_counter()
            if a.get("result", {}).get("isError") or b.get("result", {}).get("isError") or "error" in b:
                raise HarnessError(f"a call failed: direct {a} bridge {b}")
            if i >= warmup:
                direct_times.append(t1 - t0)
                bridge_times.append(t2 - t1)
    finally:
        direct.close()
        bridge.close()
    added = (statistics.median(bridge_times) - statistics.median(direct_times)) * 1000
    print(f"  {label}: direct  {ms(direct_times)}")
    print(f"  {label}: bridge  {ms(bridge_times)}")
    verdict = "PASS" if added <= TARGET_ADDED_MS else "FAIL"
    print(f"  {label}: added by the bridge at the median: {added:.3f} ms (target <= {TARGET_ADDED_MS} ms) {verdict}")
    return added


def bench_startup(url: str, name: str, env: dict[str, str], runs: int) -> float:
    times: list[float] = []
    direct_init: list[float] = []
    for i in range(runs):
        bridge = Bridge(url, name, env)
        bridge.send(initialize())
        answer = bridge.answer(1)
        times.append(time.perf_counter() - bridge.started)
        if "result" not in answer:
            raise HarnessError(f"initialize failed: {answer}")
        bridge.close()
        t0 = time.perf_counter()
        with httpx.Client(timeout=TIMEOUT) as http:
            http.post(url, json=initialize(i), headers={"Accept": "application/json, text/event-stream"})
        direct_init.append(time.perf_counter() - t0)
    median = statistics.median(times) * 1000
    print(f"  start-up: spawn to the initialize answer  {ms(times)}")
    print(f"  start-up: the same initialize from a fresh httpx client in this process  {ms(direct_init)}")
    verdict = "PASS" if median <= TARGET_STARTUP_MS else "FAIL"
    print(f"  start-up: median {median:.1f} ms (target <= {TARGET_STARTUP_MS:.0f} ms) {verdict}")
    return median


def bench_env(base: dict[str, str], home: Path, cache: Path | None) -> dict[str, str]:
    """The environment of the bench's children: their own profile, and a bytecode cache unless ``cache`` is None.

    An installed mcpguard runs from compiled bytecode. Under ``PYTHONDONTWRITEBYTECODE`` (set in some
    sandboxes and CI images) every start would compile what changed since the last install again,
    which measures the environment, not the bridge.
    """
    env = {**base, "MCPGUARD_HOME": str(home), "MCPGUARD_GRACE_SECONDS": "1"}
    env.pop("MCPGUARD_LOG_LEVEL", None)
    if cache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.pop("PYTHONUNBUFFERED", None)
        env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def server_stats(url: str) -> dict[str, int]:
    """The OAuth test server's counters: registrations, authorizations and token grants by type."""
    stats: dict[str, int] = httpx.get(url.replace("/mcp", "/test/stats"), trust_env=False).json()
    return stats


def keyring_item(env: dict[str, str], item: str) -> dict[str, Any]:
    """Which keyring backend a child in ``env`` gets, and whether it holds ``item`` of service ``mcpguard``.

    Asked from a separate process in the bench's session, through mcpguard's own choice of backend,
    so that "the token came from the keyring" is checked where the bridges looked.
    """
    script = (
        "import json\n"
        "from pathlib import Path\n"
        "from mcpguard.secrets.keyring_store import KeyringStore, SERVICE\n"
        "store = KeyringStore(Path('.'))\n"
        "backend = store.backend()\n"
        f"value = backend.get_password(SERVICE, {item!r})\n"
        "print(json.dumps({'backend': type(backend).__module__, 'description': store.description,"
        " 'present': isinstance(value, str) and bool(value)}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=TIMEOUT)
    if proc.returncode != 0:
        raise HarnessError(f"reading the keyring failed: {proc.stderr.strip()[-500:]}")
    answer: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    return answer


def children_cpu() -> float:
    """Seconds of CPU (user + sys) used so far by this process's children that have been waited for.

    Less at the mercy of other work on the machine than wall-clock time, so it shows whether a
    slower run did more work or only waited for a CPU.
    """
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


LIBRARY_FLOOR = (
    "import sys; sys.modules['httpx._main'] = None\n"
    "import ctypes, httpx, httpcore, h11\n"
    "ctypes.CDLL('libsecret-1.so.0')\n"
    "print('imported', flush=True)"
)
"""What any Python bridge on httpx must import and load to read a secret through libsecret (as mcpguard
does where libsecret is installed), run between the timed starts.

Not a target: it shows how fast the machine was during the run (it changes from minute to minute
here), and how much of a start is left to mcpguard itself.
"""


def library_floor(env: dict[str, str]) -> float:
    """Seconds from spawning a Python that imports only :data:`LIBRARY_FLOOR` to its saying so.

    Up to that line, not to its exit, as a bridge is timed up to its answer: tearing an
    interpreter down costs some tens of milliseconds more.
    """
    started = time.perf_counter()
    with subprocess.Popen([sys.executable, "-c", LIBRARY_FLOOR], env=env, stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        elapsed = time.perf_counter() - started
        if proc.wait(TIMEOUT) != 0 or line.strip() != b"imported":
            raise HarnessError(f"the library floor failed ({line!r}, exit {proc.returncode})")
    return elapsed


def bench_auth_start(workdir: Path, cache: Path | None, runs: int, warmup: int) -> float | None:
    """Start-up with the token cached in a real Secret Service; the median in ms, None when skipped."""
    missing = missing_secret_service_tools()
    if missing:
        reason = f"needs {' and '.join(missing)} (apt-get install dbus gnome-keyring, or `bash .ci/setup`)"
        if os.environ.get("MCPGUARD_REQUIRE_KEYRING") == "1":
            raise HarnessError(f"MCPGUARD_REQUIRE_KEYRING=1 but a real Secret Service {reason}")
        print(f"  auth start-up: SKIP, a real Secret Service {reason}")
        return None
    name = "bench-oauth"
    item = TOKENS_ITEM.format(name=name)
    root = Path(tempfile.mkdtemp(prefix="mg-kr-"))  # short: the keyring's sockets live under it
    try:
        session = SecretServiceSession(root)
        with running_oauth_server() as url, session.running() as session_env:
            base = {k: v for k, v in session_env.items() if k not in ("KEYRING_PW", "PYTHONPATH")}
            env = {**bench_env(base, session.profile, cache), **fake_browser_env(root)}
            browser_log = Path(env["FAKE_BROWSER_LOG"])
            with open(workdir / "auth-signin.stderr", "wb") as err:
                approve(url, name, env, stderr=err)
            signed_in = server_stats(url)
            launches = browser_log.read_text().count("\n") if browser_log.exists() else 0
            if launches != 1 or signed_in.get("authorization_code") != 1:
                raise HarnessError(f"the sign-in did not happen once: {launches} browser launches, server {signed_in}")
            if not keyring_item(env, item)["present"]:
                raise HarnessError(f"after the sign-in the Secret Service holds no {item}")
            times: list[float] = []
            cpu: list[float] = []
            floor: list[float] = []
            stderr_path = workdir / "auth-start.stderr"
            with open(stderr_path, "wb") as err:
                for i in range(warmup + runs):
                    before = children_cpu()
                    bridge = Bridge(url, name, env, stderr=err)
                    bridge.send(initialize())
                    answer = bridge.answer(1)
                    elapsed = time.perf_counter() - bridge.started
                    bridge.close()
                    if "result" not in answer:
                        raise HarnessError(f"initialize with the cached token failed: {answer}")
                    if i >= warmup:
                        times.append(elapsed)
                        cpu.append(children_cpu() - before)
                        floor.append(library_floor(env))
            after = server_stats(url)
            launches_after = browser_log.read_text().count("\n")
            found = keyring_item(env, item)
    except AssertionError as exc:  # the shared helpers' way of saying a server or the session did not start
        raise HarnessError(str(exc)) from exc
    finally:
        shutil.rmtree(root, ignore_errors=True)
    signins = {k: after.get(k, 0) - signed_in.get(k, 0) for k in ("authorizations", "authorization_code")}
    said = stderr_path.read_text(errors="replace")
    if launches_after != launches or any(signins.values()) or "sign in to" in said:
        raise HarnessError(
            f"a timed start signed in again: {launches_after - launches} browser launches, server {signins}"
        )
    if not found["present"] or found["backend"] != "keyring.backends.SecretService":
        raise HarnessError(f"the token is not an item of the Secret Service: {found}")
    median = statistics.median(times) * 1000
    print(f"  auth start-up: spawn to the initialize answer  {ms(times)}")
    print(f"  auth start-up: CPU time of one bridge, start to exit (user + sys)  {ms(cpu)}")
    print(f"  auth start-up: floor, a Python that only imports the libraries a bridge needs  {ms(floor)}")
    print(
        f"  auth start-up: token from {found['description']} ({item}), no browser launch, "
        f"no new authorization, {after.get('refresh_token', 0)} refreshes"
    )
    verdict = "PASS" if median <= TARGET_STARTUP_MS else "FAIL"
    print(f"  auth start-up: median {median:.1f} ms (target <= {TARGET_STARTUP_MS:.0f} ms) {verdict}")
    return median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--calls", type=int, help="timed calls per mode (default 1000; 200 with --quick)")
    parser.add_argument("--only", choices=PARTS, action="append", help="run only this part (repeatable)")
    parser.add_argument(
        "--inherit-env",
        action="store_true",
        help="start children with PYTHONDONTWRITEBYTECODE etc. as set here (default: a private bytecode cache)",
    )
    args = parser.parse_args()
    calls = args.calls or (200 if args.quick else 1000)
    warmup = 50 if args.quick else 200
    runs = 8 if args.quick else 25
    parts = set(args.only or PARTS)

    print(
        f"bench_remote on {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    workdir = Path(tempfile.mkdtemp(prefix="mcpguard-bench-remote-"))
    cache = None if args.inherit_env else workdir / "pycache"
    env = bench_env(dict(os.environ), workdir / "home", cache)
    servers: list[Server] = []
    ok = True
    try:
        if parts & {"calls", "startup"}:
            json_server = Server(workdir, "--json-response")
            servers.append(json_server)
        if "calls" in parts:
            sse_server = Server(workdir)
            servers.append(sse_server)
            print(f"tool call (echo, 1 KiB), {calls} timed calls after {warmup} warm-up, interleaved:")
            ok &= bench_calls("SSE answers ", sse_server.url, "bench-sse", env, calls, warmup) <= TARGET_ADDED_MS
            ok &= bench_calls("JSON answers", json_server.url, "bench-json", env, calls, warmup) <= TARGET_ADDED_MS
        if "startup" in parts:
            if "calls" not in parts:
                approve(json_server.url, "bench-json", env)
            print(f"start-up, {runs} runs:")
            ok &= bench_startup(json_server.url, "bench-json", env, runs) <= TARGET_STARTUP_MS
        if "auth-start" in parts:
            auth_warmup = 2
            print(
                f"start-up with a cached token in the Secret Service (gnome-keyring, private D-Bus), "
                f"{runs} runs after {auth_warmup} warm-up:"
            )
            median = bench_auth_start(workdir, cache, runs, auth_warmup)
            ok &= median is None or median <= TARGET_STARTUP_MS
    except HarnessError as exc:
        print(f"bench_remote: {exc}", file=sys.stderr)
        return 2
    finally:
        for server in servers:
            server.close()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
