"""A canary secret through a real server call: in the server's environment, nowhere mcpguard writes.

A real Secret Service (the private D-Bus + gnome-keyring session of ``test_keyring.py``) holds
``canary/CANARY_TOKEN``. A real ``mcpguard run`` injects it into a scripted server, which echoes it
in a tool result and prints it on its stderr; the client sends it back as an argument of a second
call. The client must get it (it is the server's answer), and it must not appear in
``mcpguard log --json``, the activity export (JSON Lines and CSV), or the shim's stderr. The log is
chained with the integrity key and verifies.
"""

from __future__ import annotations

import pytest

from tests.integration.test_keyring import Session, session  # noqa: F401  (the fixture)

pytestmark = pytest.mark.integration

CANARY = "ghp_" + "Canary0Canary1Canary2" + "Canary3Cana"
"""A made-up token of GitHub's shape, so the shape rules would catch it too; the value rule must."""

SERVER = r"""
import json, os, sys
token = os.environ.get("CANARY_TOKEN", "<missing>")
sys.stderr.write(f"server starting with token {token}\n")
sys.stderr.flush()
for line in sys.stdin:
    msg = json.loads(line)
    if "id" not in msg:
        continue
    method, rid = msg.get("method"), msg["id"]
    if method == "initialize":
        result = {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                  "serverInfo": {"name": "canary", "version": "1"}}
    elif method == "tools/list":
        result = {"tools": [{"name": "echo_env", "description": "Echo the token.",
                             "inputSchema": {"type": "object"}}]}
    elif method == "tools/call":
        sys.stderr.write(f"called with {json.dumps(msg['params'])} holding {token}\n")
        sys.stderr.flush()
        result = {"content": [{"type": "text", "text": f"token={token}"}], "isError": False}
    else:
        result = {}
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": rid, "result": result}) + "\n")
    sys.stdout.flush()
"""

SCRIPT = f"""
import json, os, subprocess, sys, time
from pathlib import Path

from mcpguard.paths import AppPaths
from mcpguard.pinning.store import Store
from mcpguard.secrets.integrity import integrity_key
from mcpguard.secrets.keyring_store import KeyringStore

paths = AppPaths.from_env().ensure()
keyring = KeyringStore(paths.root)
keyring.set("canary/CANARY_TOKEN", {CANARY!r})
integrity_key(keyring)  # what `mcpguard secrets protect` does
store = Store.open(paths)
store.set_setting("trust_on_first_use", "on")
store.close()

server = Path(os.environ["MCPGUARD_HOME"]).parent / "server.py"
server.write_text({SERVER!r})
messages = [
    {{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {{"protocolVersion": "2025-06-18",
      "capabilities": {{}}, "clientInfo": {{"name": "t", "version": "1"}}}}}},
    {{"jsonrpc": "2.0", "method": "notifications/initialized"}},
    {{"jsonrpc": "2.0", "id": 2, "method": "tools/list"}},
    {{"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {{"name": "echo_env", "arguments": {{}}}}}},
    {{"jsonrpc": "2.0", "id": 4, "method": "tools/call",
      "params": {{"name": "echo_env", "arguments": {{"echo": {CANARY!r}, "note": "sent back: " + {CANARY!r}}}}}}},
]
shim = subprocess.Popen(
    [sys.executable, "-m", "mcpguard", "run", "--name", "canary", "--client", "test", "--env-keys", "",
     "--", sys.executable, str(server)],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
)
answers = {{}}
for message in messages:
    shim.stdin.write(json.dumps(message) + "\\n")
    shim.stdin.flush()
    if "id" in message:
        reply = json.loads(shim.stdout.readline())
        answers[reply["id"]] = reply
shim.stdin.close()
shim_stdout_rest = shim.stdout.read()
shim_stderr = shim.stderr.read()
shim.wait(timeout=30)

def run(*args):
    return subprocess.run([sys.executable, "-m", "mcpguard", *args], capture_output=True, text=True, timeout=60)

log_json = run("log", "--json", "--limit", "0")
verify = run("log", "verify")

from mcpguard.audit import AuditLog, CallFilter
from mcpguard.gui.activity_model import write_export

store = Store.open(paths)
audit = AuditLog(store)
exports = {{}}
for fmt in ("jsonl", "csv"):
    target = paths.home / f"export.{{fmt}}"
    write_export(audit, CallFilter(), audit.last_id(), target, fmt)
    exports[fmt] = target.read_text(encoding="utf-8")
rows = [row.hash for row in audit.rows()]
db_bytes = Path(paths.database_file).read_bytes()
print(json.dumps({{
    "results": [answers[i].get("result", answers[i].get("error")) for i in (3, 4)],
    "shim_exit": shim.returncode,
    "shim_stderr": shim_stderr,
    "log_json": log_json.stdout,
    "log_exit": log_json.returncode,
    "verify": verify.stdout + verify.stderr,
    "verify_exit": verify.returncode,
    "exports": exports,
    "row_hashes": rows,
    "canary_in_db": {CANARY!r}.encode() in db_bytes,
}}))
"""


def test_the_canary_reaches_the_server_and_nothing_mcpguard_writes(session: Session) -> None:  # noqa: F811
    (report,) = session.run(SCRIPT, timeout=180)
    first, second = report["results"]
    assert first["content"][0]["text"] == f"token={CANARY}", report  # injected: the client gets its answer
    assert second["content"][0]["text"] == f"token={CANARY}"
    assert report["shim_exit"] == 0, report["shim_stderr"]

    assert report["log_exit"] == 0
    log_lines = report["log_json"].splitlines()
    assert len(log_lines) == 2
    assert "[redacted:canary/CANARY_TOKEN]" in report["log_json"]  # the arguments were logged, scrubbed
    assert CANARY not in report["log_json"]
    for fmt, text in report["exports"].items():
        assert text, fmt
        assert CANARY not in text, fmt
    assert "server starting with token [redacted:canary/CANARY_TOKEN]" in report["shim_stderr"]
    assert CANARY not in report["shim_stderr"]
    assert not report["canary_in_db"]

    assert report["verify_exit"] == 0, report["verify"]
    assert all(h.startswith("h1:") for h in report["row_hashes"])
    assert "2 keyed rows and the signed head verified" in report["verify"]
