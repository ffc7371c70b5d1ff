"""Benchmark: mcpguard's stdio shim against the same MCP server launched directly.

Run from the repository root::

    .venv/bin/python tests/bench/bench_shim.py            # full run (about 1-2 minutes)
    .venv/bin/python tests/bench/bench_shim.py --quick    # smoke run (under 30 s)

Every figure is measured side by side in one run: the server started directly (the physical limit
of a Python stdio server on this machine) and the same server started through
``mcpguard run --name ... --client ... -- SERVER``, with its tools approved beforehand, so that the
relay path is the one users live on. See docs/performance.md for what each figure means.

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
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ECHO_SERVER = HERE / "echo_server.py"
SERVER_NAME = "bench-echo"
CLIENT_NAME = "bench"
PROTOCOL_VERSION = "2025-06-18"
MB = 1_000_000
"""Memory is reported in MB of 10^6 bytes (the targets are written in MB)."""

READ_SIZE = 1 << 20
TIMEOUT = 60.0


def _find_mcpguard() -> Path:
    """The console script next to this interpreter (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "mcpguard"
    if beside.exists():
        return beside
    found = shutil.which("mcpguard")
    if found is None:
        sys.exit("bench_shim: cannot find the mcpguard command; run with the project's .venv/bin/python")
    return Path(found)


MCPGUARD = _find_mcpguard()
SERVER_ARGV = [sys.executable, str(ECHO_SERVER)]


def shim_argv() -> list[str]:
    return [str(MCPGUARD), "run", "--name", SERVER_NAME, "--client", CLIENT_NAME, "--", *SERVER_ARGV]


# -- processes -------------------------------------------------------------------------------------


class HarnessError(Exception):
    """The benchmark could not measure (a time-out, a wrong answer, a process that died)."""


_LIVE: list[Peer] = []
"""Every process this script started and has not reaped yet, for the final clean-up."""


class Peer:
    """One started process (the server, or the shim in front of it) that we talk to over its pipes."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], stderr_path: Path, *, is_shim: bool) -> None:
        self.argv = list(argv)
        self.is_shim = is_shim
        self._stderr = open(stderr_path, "ab")  # noqa: SIM115 - closed in close()
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=env, bufsize=0
        )
        _LIVE.append(self)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.in_fd = self.proc.stdin.fileno()
        self.out_fd = self.proc.stdout.fileno()
        self._buf = bytearray()
        self._scanned = 0
        self.children: set[int] = set()
        """Pids of the shim's server process(es), remembered so that none outlives the benchmark."""

    @property
    def pid(self) -> int:
        return self.proc.pid

    # writing

    def send_bytes(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.in_fd, view) :]
        except BrokenPipeError as exc:
            raise HarnessError(f"{self.label} closed its input (exit status {self.proc.poll()})") from exc

    def send(self, message: dict[str, Any]) -> None:
        self.send_bytes(encode(message) + b"\n")

    # reading

    def read_line(self, timeout: float = TIMEOUT) -> bytes:
        """The next line the process wrote, without its newline."""
        buf = self._buf
        deadline = time.monotonic() + timeout
        while True:
            nl = buf.find(b"\n", self._scanned)
            if nl >= 0:
                line = bytes(buf[:nl])
                del buf[: nl + 1]
                self._scanned = 0
                return line
            self._scanned = len(buf)
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([self.out_fd], [], [], wait)[0]:
                raise HarnessError(f"{self.label} did not answer within {timeout:.0f} s")
            data = os.read(self.out_fd, READ_SIZE)
            if not data:
                raise HarnessError(f"{self.label} closed its output (exit status {self.proc.poll()})")
            buf += data

    def read_message(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        line = self.read_line(timeout)
        try:
            message = json.loads(line)
        except ValueError as exc:
            raise HarnessError(f"{self.label} wrote a line that is not JSON: {line[:120]!r}") from exc
        if not isinstance(message, dict):
            raise HarnessError(f"{self.label} wrote a batch or a scalar: {line[:120]!r}")
        return message

    def request(self, msg_id: int, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one request and return its result; anything else (a notification, an error) fails."""
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        while True:
            answer = self.read_message()
            if "id" not in answer:
                continue  # a notification (e.g. list_changed from the shim): not ours
            if answer.get("id") != msg_id:
                raise HarnessError(f"{self.label} answered id {answer.get('id')!r}, expected {msg_id}")
            if "result" not in answer:
                raise HarnessError(f"{self.label} answered {method} with {json.dumps(answer)[:300]}")
            return answer["result"]  # type: ignore[no-any-return]

    def handshake(self, *, list_tools: bool = True) -> None:
        """initialize, notifications/initialized and, by default, tools/list (which must show echo)."""
        self.request(1, "initialize", initialize_params())
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        self.remember_children()
        if list_tools:
            tools = self.request(2, "tools/list", {}).get("tools")
            names = [t.get("name") for t in tools] if isinstance(tools, list) else tools
            if names != ["echo"]:
                raise HarnessError(f"{self.label} listed tools {names!r}, expected ['echo'] (not approved?)")

    # life cycle

    @property
    def label(self) -> str:
        return f"the shim (pid {self.pid})" if self.is_shim else f"the server (pid {self.pid})"

    def remember_children(self) -> None:
        """Note the shim's server process, which runs in a session of its own, so it can be reaped."""
        if self.is_shim:
            self.children.update(_children(self.pid))

    def status_kb(self, key: str) -> int:
        """A ``VmRSS``/``VmHWM``-style line of /proc/PID/status, in kB."""
        try:
            text = Path(f"/proc/{self.pid}/status").read_text()
        except OSError as exc:
            raise HarnessError(f"cannot read /proc/{self.pid}/status: {exc}") from exc
        for line in text.splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise HarnessError(f"/proc/{self.pid}/status has no {key}")

    def close(self, grace: float = 5.0) -> int | None:
        """Close its input (what a client does), wait, then escalate; also reap the shim's server."""
        self.remember_children()
        try:
            self.proc.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass
        code: int | None
        try:
            code = self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                code = self.proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                code = self.proc.wait()
        for pid in self.children:
            _reap_stray(pid)
        self.proc.stdout.close()  # type: ignore[union-attr]
        self._stderr.close()
        if self in _LIVE:
            _LIVE.remove(self)
        return code


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found.update(int(p) for p in (task / "children").read_text().split())
    except OSError:
        pass
    return found


def _reap_stray(pid: int) -> None:
    """Kill a server the shim left behind (checking the pid still names our echo server)."""
    for _ in range(40):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return
        if ECHO_SERVER.name.encode() not in cmdline or state == "Z":
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
        print(f"  note: killed a server (pid {pid}) still running after its shim ended", file=sys.stderr)
    except OSError:
        pass


def cleanup_all() -> None:
    for peer in list(_LIVE):
        try:
            peer.close(grace=2.0)
        except Exception as exc:  # noqa: BLE001 - best effort at exit
            print(f"  clean-up of pid {peer.pid} failed: {exc}", file=sys.stderr)


# -- messages --------------------------------------------------------------------------------------

_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def encode(message: Any) -> bytes:
    return _encoder.encode(message).encode("utf-8")


def initialize_params() -> dict[str, Any]:
    return {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "bench_shim", "version": "1"},
    }


def call_line(msg_id: int, text: str) -> bytes:
    message = {
        "jsonrpc": "2.0",
        "id": msg_id,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"text": text}},
    }
    return encode(message) + b"\n"


def ping_line(msg_id: int, pad: str) -> bytes:
    message = {"jsonrpc": "2.0", "id": msg_id, "method": "ping", "params": {"_meta": {"pad": pad}}}
    return encode(message) + b"\n"


def padding_for(target: int, build: Callable[[int, str], bytes]) -> str:
    """A text argument that makes ``build(id, text)`` about ``target`` bytes long (id of 5 digits)."""
    overhead = len(build(10000, ""))
    return "x" * max(0, target - overhead)


# -- the environment of one benchmark --------------------------------------------------------------


@dataclass
class Bench:
    """A fresh MCPGUARD_HOME with the echo server's tools approved, and helpers to start peers."""

    workdir: Path
    home: Path = field(init=False)
    env: dict[str, str] = field(init=False)
    stderr_path: Path = field(init=False)

    inherit_env: bool = False
    """Pass PYTHON* variables through as they are (by default children get a bytecode cache)."""

    def __post_init__(self) -> None:
        self.home = self.workdir / "mcpguard-home"
        self.stderr_path = self.workdir / "stderr.log"
        self.env = self.env_for(self.home)

    def env_for(self, home: Path) -> dict[str, str]:
        env = dict(os.environ)
        env["MCPGUARD_HOME"] = str(home)
        for name in ("MCPGUARD_LOG_LEVEL", "MCPGUARD_MAX_MESSAGE_BYTES", "MCPGUARD_GRACE_SECONDS"):
            env.pop(name, None)
        if not self.inherit_env:
            # An installed mcpguard runs from compiled bytecode. Under PYTHONDONTWRITEBYTECODE (set in
            # some sandboxes and CI images) every start would recompile mcpguard from source, which
            # measures the environment, not the shim: give the children a private bytecode cache.
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env.pop("PYTHONUNBUFFERED", None)
            env["PYTHONPYCACHEPREFIX"] = str(self.workdir / "pycache")
        return env

    def direct(self) -> Peer:
        return Peer(SERVER_ARGV, self.env, self.stderr_path, is_shim=False)

    def shim(self, env: dict[str, str] | None = None) -> Peer:
        return Peer(shim_argv(), env or self.env, self.stderr_path, is_shim=True)

    def approve(self) -> None:
        """First start (pins everything as pending), then ``mcpguard pins approve NAME --all``."""
        peer = self.shim()
        try:
            peer.request(1, "initialize", initialize_params())
            peer.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
            peer.request(2, "tools/list", {})
        finally:
            peer.close()
        done = subprocess.run(
            [str(MCPGUARD), "pins", "approve", SERVER_NAME, "--client", CLIENT_NAME, "--all"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0 or "tool 'echo': approved" not in done.stdout:
            raise HarnessError(f"mcpguard pins approve failed ({done.returncode}): {done.stdout}{done.stderr}")
        # The relay path must be the approved one: a listed, callable echo tool.
        peer = self.shim()
        try:
            peer.handshake()
            result = peer.request(3, "tools/call", {"name": "echo", "arguments": {"text": "approved?"}})
            if result.get("content") != [{"type": "text", "text": "approved?"}]:
                raise HarnessError(f"the approved echo tool answered {json.dumps(result)[:300]}")
        finally:
            peer.close()

    def logged_calls(self) -> int:
        """Rows in the tool-call log of the bench's profile (read with sqlite3, as any reader may)."""
        import sqlite3

        conn = sqlite3.connect(f"file:{self.home / 'state.db'}?mode=ro", uri=True, timeout=30)
        try:
            return int(conn.execute("SELECT count(*) FROM calls").fetchone()[0])
        finally:
            conn.close()

    def wait_logged(self, rows: int, since: float, timeout: float = 120.0) -> float:
        """Seconds from ``since`` until the log holds ``rows`` rows (polled every 10 ms)."""
        deadline = time.monotonic() + timeout
        while self.logged_calls() < rows:
            if time.monotonic() > deadline:
                raise HarnessError(f"the log held {self.logged_calls()} of {rows} rows after {timeout:.0f} s")
            time.sleep(0.01)
        return time.perf_counter() - since

    def stderr_lines(self) -> list[str]:
        try:
            return [x for x in self.stderr_path.read_text(errors="replace").splitlines() if x.strip()]
        except OSError:
            return []


# -- statistics ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass
class Row:
    metric: str
    direct: str
    shim: str
    relation: str
    target: str
    ok: bool | None
    """None: informational, no target."""

    @property
    def verdict(self) -> str:
        return "info" if self.ok is None else ("PASS" if self.ok else "FAIL")


ROWS: list[Row] = []


def row(metric: str, direct: str, shim: str, relation: str, target: str, ok: bool | None) -> None:
    ROWS.append(Row(metric, direct, shim, relation, target, ok))


def error_row(metric: str, exc: BaseException) -> None:
    ROWS.append(Row(metric, "-", "-", f"error: {exc}", "-", False))


# -- 1. start-up -----------------------------------------------------------------------------------


def time_first_answer(peer: Peer) -> float:
    """Seconds from spawn (taken just before Popen) to the first initialize answer."""
    peer.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": initialize_params()})
    answer = peer.read_message(timeout=30)
    elapsed = time.perf_counter() - peer.started
    if answer.get("id") != 1 or "result" not in answer:
        raise HarnessError(f"{peer.label} answered initialize with {json.dumps(answer)[:300]}")
    return elapsed


def time_first_result(peer: Peer) -> float:
    """After the first answer: the rest of a client's start (initialized, tools/list, one tools/call);
    seconds from spawn to the first tool result."""
    peer.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    tools = peer.request(2, "tools/list", {}).get("tools")
    if not isinstance(tools, list) or [t.get("name") for t in tools] != ["echo"]:
        raise HarnessError(f"{peer.label} listed {json.dumps(tools)[:200]}")
    result = peer.request(3, "tools/call", {"name": "echo", "arguments": {"text": "first"}})
    elapsed = time.perf_counter() - peer.started
    if result.get("content") != [{"type": "text", "text": "first"}]:
        raise HarnessError(f"{peer.label} answered the first call with {json.dumps(result)[:300]}")
    return elapsed


def bench_startup(bench: Bench, runs: int, cold_runs: int) -> None:
    print(f"[1/4] start-up: {runs} runs each, alternating direct and shim (+2 warm-up each)", flush=True)
    direct: list[float] = []
    shim: list[float] = []
    first_call: dict[str, list[float]] = {"direct": [], "shim": []}
    for i in range(runs + 2):
        for kind in ("direct", "shim") if i % 2 == 0 else ("shim", "direct"):
            peer = bench.direct() if kind == "direct" else bench.shim()
            try:
                t = time_first_answer(peer)
                t_call = time_first_result(peer)
            finally:
                peer.close()
            if i >= 2:
                (direct if kind == "direct" else shim).append(t)
                first_call[kind].append(t_call)
    d, s = statistics.median(direct), statistics.median(shim)
    print(
        f"      direct median {d * 1e3:.1f} ms (min {min(direct) * 1e3:.1f}, max {max(direct) * 1e3:.1f}); "
        f"shim median {s * 1e3:.1f} ms (min {min(shim) * 1e3:.1f}, max {max(shim) * 1e3:.1f})",
        flush=True,
    )
    row(
        "start-up to 1st answer, approved (median)",
        f"{d * 1e3:.1f} ms",
        f"{s * 1e3:.1f} ms",
        f"+{(s - d) * 1e3:.1f} ms",
        "<= +50 ms",
        (s - d) * 1e3 <= 50,
    )

    fd, fs = statistics.median(first_call["direct"]), statistics.median(first_call["shim"])
    print(
        f"      spawn -> first tool result (initialize, initialized, tools/list, tools/call): direct median "
        f"{fd * 1e3:.1f} ms, shim {fs * 1e3:.1f} ms",
        flush=True,
    )
    row(
        "spawn to 1st tools/call result (median)",
        f"{fd * 1e3:.1f} ms",
        f"{fs * 1e3:.1f} ms",
        f"+{(fs - fd) * 1e3:.1f} ms",
        "(info)",
        None,
    )

    print(f"      cold first start (empty profile): {cold_runs} runs, each with a new MCPGUARD_HOME", flush=True)
    cold: list[float] = []
    cold_direct: list[float] = []
    for i in range(cold_runs):
        env = bench.env_for(bench.workdir / f"cold-home-{i}")
        peer = bench.shim(env)
        try:
            cold.append(time_first_answer(peer))
        finally:
            peer.close()
        peer = bench.direct()
        try:
            cold_direct.append(time_first_answer(peer))
        finally:
            peer.close()
    c, cd = statistics.median(cold), statistics.median(cold_direct)
    print(f"      cold shim median {c * 1e3:.1f} ms; direct {cd * 1e3:.1f} ms", flush=True)
    row(
        "start-up, cold first start (median)",
        f"{cd * 1e3:.1f} ms",
        f"{c * 1e3:.1f} ms",
        f"+{(c - cd) * 1e3:.1f} ms",
        "(info)",
        None,
    )


# -- 2. sequential round trip ----------------------------------------------------------------------


def bench_round_trip(bench: Bench, iterations: int, warmup: int, block: int = 100) -> None:
    text = padding_for(1024, call_line)
    size = len(call_line(10000, text)) - 1
    print(
        f"[2/4] round trip: tools/call echo of {size} B each way, {iterations} sequential calls "
        f"(+{warmup} warm-up), direct and shim alternating in blocks of {block}",
        flush=True,
    )
    direct, shim = bench.direct(), bench.shim()
    times: dict[Peer, list[float]] = {direct: [], shim: []}
    try:
        for peer in (direct, shim):
            peer.handshake()
        expected = {"content": [{"type": "text", "text": text}], "isError": False}
        msg_id = 10000
        done = 0
        while done < warmup + iterations:
            n = min(block, warmup + iterations - done)
            for peer in (direct, shim) if (done // block) % 2 == 0 else (shim, direct):
                perf = time.perf_counter
                sink = times[peer]
                for k in range(n):
                    msg_id += 1
                    line = call_line(msg_id, text)
                    t0 = perf()
                    peer.send_bytes(line)
                    answer = peer.read_line()
                    t1 = perf()
                    if done + k >= warmup:
                        sink.append(t1 - t0)
                    if b'"result":{"content"' not in answer[:64]:
                        raise HarnessError(f"{peer.label} answered {answer[:300]!r}")
                    if k == 0:  # check one answer per block in full
                        message = json.loads(answer)
                        if message.get("id") != msg_id or message.get("result") != expected:
                            raise HarnessError(f"{peer.label} answered {answer[:300]!r}")
            done += n
    finally:
        direct.close()
        shim.close()
    d, s = times[direct], times[shim]
    dm, sm = statistics.median(d), statistics.median(s)
    d99, s99 = percentile(d, 99), percentile(s, 99)
    print(
        f"      median direct {dm * 1e3:.3f} ms, shim {sm * 1e3:.3f} ms (x{sm / dm:.2f}); "
        f"p99 direct {d99 * 1e3:.3f} ms, shim {s99 * 1e3:.3f} ms; max shim {max(s) * 1e3:.1f} ms",
        flush=True,
    )
    row(
        "round trip 1 KiB tools/call, median",
        f"{dm * 1e3:.3f} ms",
        f"{sm * 1e3:.3f} ms",
        f"x{sm / dm:.2f}",
        "<= x2.5",
        sm / dm <= 2.5,
    )
    row(
        "round trip 1 KiB tools/call, p99",
        f"{d99 * 1e3:.3f} ms",
        f"{s99 * 1e3:.3f} ms",
        f"x{s99 / d99:.2f}",
        "(info)",
        None,
    )


# -- 3. pipelined throughput -----------------------------------------------------------------------


def pump(peer: Peer, lines: list[bytes], chunk: int = 1 << 18) -> float:
    """Write every line from a thread without waiting, read every answer; seconds from first write
    to last answer.

    The client must cost next to nothing here, or it, not the relay, sets the pace: the writer sends
    pre-joined chunks of about 256 KiB, and the reader counts newlines in 1 MiB reads instead of
    splitting lines. Every answer is checked for an error member; the last one is checked in full.
    """
    count = len(lines)
    blobs: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for line in lines:
        current.append(line)
        size += len(line)
        if size >= chunk:
            blobs.append(b"".join(current))
            current, size = [], 0
    if current:
        blobs.append(b"".join(current))
    last_id = json.loads(lines[-1])["id"]
    failure: list[BaseException] = []

    def writer() -> None:
        try:
            for blob in blobs:
                peer.send_bytes(blob)
        except BaseException as exc:  # noqa: BLE001 - reported by the reader
            failure.append(exc)

    thread = threading.Thread(target=writer, name="bench-writer", daemon=True)
    if peer._buf:
        raise HarnessError(f"{peer.label} sent something unexpected before the burst: {bytes(peer._buf[:200])!r}")
    seen = 0
    errors = 0
    tail = b""
    deadline = time.monotonic() + 300
    t0 = time.perf_counter()
    thread.start()
    while seen < count:
        wait = deadline - time.monotonic()
        if wait <= 0 or not select.select([peer.out_fd], [], [], min(wait, TIMEOUT))[0]:
            problem = f"; writing failed: {failure[0]}" if failure else ""
            raise HarnessError(f"{peer.label} stopped answering after {seen} of {count} answers{problem}")
        data = os.read(peer.out_fd, READ_SIZE)
        if not data:
            raise HarnessError(f"{peer.label} closed its output after {seen} of {count} answers")
        seen += data.count(b"\n")
        errors += data.count(b'"error":{')
        tail = (tail + data)[-8192:]
    elapsed = time.perf_counter() - t0
    thread.join(timeout=TIMEOUT)
    if seen != count:
        raise HarnessError(f"{peer.label} wrote {seen} lines for {count} requests")
    last = json.loads(tail.rstrip(b"\n").rsplit(b"\n", 1)[-1])
    if errors or last.get("id") != last_id or "result" not in last:
        raise HarnessError(
            f"{peer.label}: {errors} error answers; last answer {json.dumps(last)[:200]} (expected id {last_id})"
        )
    return elapsed


def bench_throughput(bench: Bench, count: int, rounds: int, methods: Sequence[str]) -> None:
    print(
        f"[3/4] pipelined throughput: {count} requests of ~1 KiB written by a thread without waiting, "
        f"{rounds} round(s) per side, alternating; best round reported",
        flush=True,
    )
    for method in methods:
        make: Callable[[int, str], bytes]
        if method == "tools/call":
            text = padding_for(1024, call_line)
            make = call_line
            label = "throughput 1 KiB tools/call echo"
        else:
            text = padding_for(1024, ping_line)
            make = ping_line
            label = "throughput 1 KiB ping"
        rates: dict[str, list[float]] = {"direct": [], "shim": []}
        logged: list[float] = []
        base = 100_000
        try:
            for r in range(rounds):
                for kind in ("direct", "shim") if r % 2 == 0 else ("shim", "direct"):
                    peer = bench.direct() if kind == "direct" else bench.shim()
                    try:
                        peer.handshake()
                        # warm-up: a short burst, not counted
                        pump(peer, [make(base + i, text) for i in range(min(500, count // 10))])
                        base += 10_000
                        lines = [make(base + i, text) for i in range(count)]
                        base += count + 10_000
                        rows_before = bench.logged_calls()
                        started = time.perf_counter()
                        elapsed = pump(peer, lines)
                        if kind == "shim" and method == "tools/call":
                            logged.append(count / bench.wait_logged(rows_before + count, started))
                    finally:
                        peer.close()
                    rates[kind].append(count / elapsed)
                    print(f"      {method:<10} {kind:<6} {count / elapsed:>9,.0f} msg/s ({elapsed:.2f} s)", flush=True)
        except HarnessError as exc:
            error_row(label, exc)
            print(f"      {method}: ERROR {exc}", flush=True)
            continue
        # Best of the rounds: on a shared machine interference only ever slows a burst down.
        d, s = max(rates["direct"]), max(rates["shim"])
        row(label, f"{d:,.0f} msg/s", f"{s:,.0f} msg/s", f"{s / d:.0%} of direct", ">= 40%", s / d >= 0.40)
        if logged:
            # The log is written off the relay path, once the burst pauses: this is the rate until
            # the last call of the burst is in the log, the whole cost of a guarded call.
            w = max(logged)
            print(f"      tools/call shim, until every call of the burst is in the log: {w:,.0f} msg/s", flush=True)
            row(f"{label}, until logged", f"{d:,.0f} msg/s", f"{w:,.0f} msg/s", f"{w / d:.0%}", "(info)", None)


# -- 4. a large message and the shim's memory ------------------------------------------------------


def big_round_trip(peer: Peer, msg_id: int, text: str) -> tuple[float, int, int]:
    """Send one tools/call echo with ``text``; check the answer; (seconds, request bytes, answer bytes)."""
    line = call_line(msg_id, text)
    failure: list[BaseException] = []

    def writer() -> None:
        try:
            peer.send_bytes(line)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failure.append(exc)

    thread = threading.Thread(target=writer, name="bench-big-writer", daemon=True)
    t0 = time.perf_counter()
    thread.start()
    try:
        answer = peer.read_line(timeout=120)
    except HarnessError:
        if failure:
            raise HarnessError(f"writing to {peer.label} failed: {failure[0]}") from failure[0]
        raise
    elapsed = time.perf_counter() - t0
    thread.join(timeout=TIMEOUT)
    message = json.loads(answer)
    result = message.get("result")
    if message.get("id") != msg_id or not isinstance(result, dict):
        raise HarnessError(f"{peer.label} answered the large call with {answer[:300]!r}")
    content = result.get("content")
    got = content[0].get("text") if isinstance(content, list) and content and isinstance(content[0], dict) else None
    if got != text:
        size = len(got) if isinstance(got, str) else None
        raise HarnessError(f"{peer.label}: the large answer's text differs (length {size}, sent {len(text)})")
    return elapsed, len(line) - 1, len(answer)


def bench_large(bench: Bench, size: int) -> None:
    print(
        f"[4/4] large message: a tools/call echo whose argument is {size / (1 << 20):.0f} MiB; shim memory", flush=True
    )
    pattern = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_"
    text = (pattern * (size // len(pattern) + 1))[:size]
    label = f"{size >> 20} MiB tools/call passes intact"
    req_bytes = len(call_line(50, text)) - 1
    ans_bytes = req_bytes

    # Idle memory first, on a shim that has done only the handshake and the listing.
    shim = bench.shim()
    try:
        shim.handshake()
        time.sleep(0.6)  # let the watcher thread run a couple of polls
        idle_rss = shim.status_kb("VmRSS") * 1000
        idle_hwm = shim.status_kb("VmHWM") * 1000
    finally:
        shim.close()
    print(
        f"      shim idle after handshake + listing: VmRSS {idle_rss / MB:.1f} MB (VmHWM {idle_hwm / MB:.1f} MB)",
        flush=True,
    )

    direct = bench.direct()
    try:
        direct.handshake()
        d_time, req_bytes, ans_bytes = big_round_trip(direct, 50, text)
        server_hwm = direct.status_kb("VmHWM") * 1000
    except HarnessError as exc:
        error_row(label + " (direct)", exc)
        d_time = None
        server_hwm = 0
    finally:
        direct.close()

    shim = bench.shim()
    s_time = None
    try:
        shim.handshake()
        s_time, req_bytes, ans_bytes = big_round_trip(shim, 50, text)
        # The answer is read in full: the shim has passed its peak; read it before the shim exits.
        shim_hwm = shim.status_kb("VmHWM") * 1000
        shim_rss_after = shim.status_kb("VmRSS") * 1000
    except HarnessError as exc:
        error_row(label, exc)
        shim_hwm = shim.status_kb("VmHWM") * 1000 if shim.proc.poll() is None else 0
        shim_rss_after = 0
    finally:
        shim.close()

    largest = max(req_bytes, ans_bytes)
    limit = 3 * largest + 30 * MB
    if s_time is not None and d_time is not None:
        print(
            f"      request {req_bytes:,} B, answer {ans_bytes:,} B; round trip direct {d_time:.2f} s, "
            f"shim {s_time:.2f} s; server peak {server_hwm / MB:.0f} MB",
            flush=True,
        )
        row(label, f"ok {d_time:.2f} s", f"ok {s_time:.2f} s", f"x{s_time / d_time:.2f}", "intact", True)
    print(
        f"      shim VmHWM {shim_hwm / MB:.1f} MB (RSS after {shim_rss_after / MB:.1f} MB); "
        f"limit 3 x {largest / MB:.1f} MB + 30 MB = {limit / MB:.1f} MB",
        flush=True,
    )
    row(
        f"shim peak RSS (VmHWM), {largest / MB:.1f} MB message",
        f"(server {server_hwm / MB:.0f} MB)",
        f"{shim_hwm / MB:.1f} MB",
        f"{shim_hwm / largest:.2f} x msg",
        f"<= {limit / MB:.1f} MB",
        0 < shim_hwm <= limit,
    )
    row("shim idle RSS after handshake + listing", "-", f"{idle_rss / MB:.1f} MB", "-", "< 30 MB", idle_rss < 30 * MB)


# -- report ----------------------------------------------------------------------------------------


def print_table() -> None:
    headers = ("metric", "direct", "shim", "ratio/overhead", "target", "result")
    cells = [headers] + [(r.metric, r.direct, r.shim, r.relation, r.target, r.verdict) for r in ROWS]
    widths = [max(len(c[i]) for c in cells) for i in range(len(headers))]
    sep = "+-" + "-+-".join("-" * w for w in widths) + "-+"
    print(sep)
    for i, c in enumerate(cells):
        print("| " + " | ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)) + " |")
        if i == 0:
            print(sep)
    print(sep)


def machine() -> str:
    return (
        f"{platform.platform()}; nproc {os.cpu_count()}; Python {platform.python_version()} "
        f"({sys.executable}); mcpguard at {MCPGUARD}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations: a smoke run in under 30 s")
    parser.add_argument("--keep", action="store_true", help="keep the temporary profile and logs (path printed)")
    parser.add_argument(
        "--inherit-env",
        action="store_true",
        help="start children with PYTHONDONTWRITEBYTECODE etc. as set here (default: a private bytecode cache)",
    )
    parser.add_argument(
        "--only",
        choices=("startup", "roundtrip", "throughput", "large"),
        action="append",
        help="run only this part (repeatable)",
    )
    parser.add_argument("--big-mib", type=int, help="size of the large message in MiB (default 64; 16 with --quick)")
    args = parser.parse_args(argv)
    if args.quick:
        startup_runs, cold_runs, rtt, warmup, tput, rounds, big = 6, 2, 400, 100, 3000, 1, 16 << 20
    else:
        startup_runs, cold_runs, rtt, warmup, tput, rounds, big = 30, 5, 2000, 300, 20000, 3, 64 << 20
    if args.big_mib:
        big = args.big_mib << 20
    parts = set(args.only or ("startup", "roundtrip", "throughput", "large"))
    methods = ("tools/call", "ping")

    print(f"bench_shim {'--quick ' if args.quick else ''}on {machine()}")
    workdir = Path(tempfile.mkdtemp(prefix="mcpguard-bench-"))
    bench = Bench(workdir, inherit_env=args.inherit_env)
    started = time.perf_counter()
    status = 0
    try:
        print(
            f"setup: fresh MCPGUARD_HOME {bench.home}; first start, then `mcpguard pins approve {SERVER_NAME} --all`",
            flush=True,
        )
        bench.approve()
        sections: list[tuple[str, Callable[[], None]]] = [
            ("startup", lambda: bench_startup(bench, startup_runs, cold_runs)),
            ("roundtrip", lambda: bench_round_trip(bench, rtt, warmup)),
            ("throughput", lambda: bench_throughput(bench, tput, rounds, methods)),
            ("large", lambda: bench_large(bench, big)),
        ]
        for name, section in sections:
            if name not in parts:
                continue
            try:
                section()
            except HarnessError as exc:
                print(f"      {name}: ERROR {exc}", flush=True)
                error_row(name, exc)
            finally:
                cleanup_all()
    except HarnessError as exc:
        print(f"bench_shim: setup failed: {exc}", file=sys.stderr)
        status = 2
    except KeyboardInterrupt:
        print("bench_shim: interrupted", file=sys.stderr)
        status = 130
    finally:
        cleanup_all()
        noise = bench.stderr_lines()
        if noise:
            print(f"\nstderr of the servers and shims ({len(noise)} lines, last 10):")
            for line in noise[-10:]:
                print(f"  {line[:200]}")
        if args.keep:
            print(f"\nkept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print(f"\nResults ({'quick' if args.quick else 'full'} run, {time.perf_counter() - started:.0f} s):")
    print_table()
    if status:
        return status
    return 1 if any(r.ok is False for r in ROWS) else 0


if __name__ == "__main__":
    sys.exit(main())
