"""The CLI a user drives without the tray: output, --json shapes, decisions, errors."""

from __future__ import annotations

import json

import pytest

from mcpguard.audit import AuditLog, CallRecord
from mcpguard.cli import main
from mcpguard.pinning.store import Store
from tests.factories import make_tool
from tests.playbook import Playbook

POISON = "Read a file.\U000e0049\U000e0047\U000e004e"


@pytest.fixture
def seen(store: Store) -> Playbook:
    """A server that showed two tools and instructions, nothing approved yet."""
    pb = Playbook(store, name="fs", client="claude")
    pb.handshake(instructions="Be careful.")
    pb.list_tools([make_tool("read_file"), make_tool("write_file", "Write a file.")])
    return pb


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_pins_list_json_shape(seen: Playbook, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "pins", "list", "--json")
    assert code == 0
    (server,) = json.loads(out)
    assert server["server"] == "fs" and server["client"] == "claude"
    kinds = {(i["kind"], i["name"]): i for i in server["items"]}
    assert set(kinds) == {("command", ""), ("server_info", ""), ("instructions", ""), ("tool", "read_file"),
                          ("tool", "write_file")}  # fmt: skip
    item = kinds[("tool", "read_file")]
    assert item["status"] == "pending"
    assert item["live_fingerprint"].startswith("v1:sha256:")
    assert item["approved_fingerprint"] is None
    assert set(item) == {"kind", "name", "status", "live_fingerprint", "approved_fingerprint", "findings", "live_seen",
                         "approval_forged"}  # fmt: skip


def test_approve_all_then_list(seen: Playbook, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "pins", "approve", "fs", "--all")
    assert code == 0 and "tool 'read_file': approved" in out
    _, out, _ = run(capsys, "pins", "list")
    assert "identity: approved" in out
    assert "pending" not in out


def test_approve_without_items_approves_identity_only(seen: Playbook, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "pins", "approve", "fs")
    _, out, _ = run(capsys, "pins", "list", "--json")
    status = {(i["kind"], i["name"]): i["status"] for i in json.loads(out)[0]["items"]}
    assert status[("command", "")] == "approved"
    assert status[("tool", "read_file")] == "pending"


def test_diff_shows_change_with_hidden_characters_visible(seen: Playbook, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "pins", "approve", "fs", "--all")
    seen.list_tools([make_tool("read_file", POISON), make_tool("write_file", "Write a file.")])
    code, out, _ = run(capsys, "pins", "diff", "fs", "read_file")
    assert code == 0
    assert '-  "description": "Read a file."' in out
    assert "⟦TAG:IGN⟧" in out
    assert "tag-characters" in out
    _, out, _ = run(capsys, "pins", "list")
    assert "changed" in out and "tag-characters (critical)" in out


def test_show_item_with_history(seen: Playbook, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "pins", "approve", "fs", "read_file")
    run(capsys, "pins", "revoke", "fs", "read_file")
    code, out, _ = run(capsys, "pins", "show", "fs", "read_file", "--json")
    doc = json.loads(out)
    assert code == 0
    assert [h["decision"] for h in doc["history"]] == ["approve", "revoke"]
    assert doc["live_definition"]["name"] == "read_file"
    code, out, _ = run(capsys, "pins", "show", "fs")
    assert "instructions" in out and "Be careful." in out


def test_pins_show_hides_a_literal_token_of_the_command_line(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0" * 2
    command = ["npx", "-y", "mcp-remote", "https://x.example/mcp", "--header", f"Authorization: Bearer {token}"]
    Playbook(store, name="bridged", client="claude", command=command).handshake()
    code, out, _ = run(capsys, "pins", "show", "bridged")
    assert code == 0 and token not in out
    assert "Authorization: Bearer [hidden: token]" in out and "https://x.example/mcp" in out


def test_deny_and_forget(seen: Playbook, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "pins", "deny", "fs", "write_file")[1].strip() == "tool 'write_file': denied"
    code, out, _ = run(capsys, "pins", "forget", "fs")
    assert code == 0
    _, out, _ = run(capsys, "pins", "list", "--json")
    assert json.loads(out) == []


def test_errors_are_one_sentence_and_exit_non_zero(seen: Playbook, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "pins", "approve", "nope")
    assert code == 1 and out == ""
    assert err == "mcpguard: no server named 'nope' is known (known servers: fs)\n"
    code, _, err = run(capsys, "pins", "diff", "fs", "missing")
    assert code == 1 and "has no tool, prompt or template named 'missing'" in err


def test_ambiguous_server_name_needs_client(seen: Playbook, store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    Playbook(store, name="fs", client="cursor")
    code, _, err = run(capsys, "pins", "show", "fs")
    assert code == 1 and "add --client" in err
    assert run(capsys, "pins", "show", "fs", "--client", "cursor")[0] == 0


def test_log_json_and_verify(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    AuditLog(store).append(
        "claude", "fs", [CallRecord(at=1.0, tool="read_file", arguments={"p": 1}, duration_ms=2.0, outcome="ok")]
    )
    code, out, _ = run(capsys, "log", "--json")
    row = json.loads(out)
    assert code == 0
    assert set(row) == {"id", "time", "client", "server", "tool", "arguments", "duration_ms", "outcome",
                        "result_size", "findings", "detail", "hash"}  # fmt: skip
    assert run(capsys, "log", "verify")[0] == 0
    _, out, _ = run(capsys, "log")
    assert "claude/fs  read_file  ok" in out


def test_settings(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "settings", "trust_on_first_use", "on")[0] == 0
    assert store.setting("trust_on_first_use") == "on"
    code, _, err = run(capsys, "settings", "trust_on_first_use", "maybe")
    assert code == 1 and "on or off" in err


def test_run_without_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "run", "--name", "x")
    assert code == 2 and "needs the server's command" in err


@pytest.mark.parametrize(
    ("key", "value", "error"),
    [
        ("first_list_hold", "-1", "from 0 to 3600"),
        ("verify_timeout", "0", "from 1 to 3600"),
        ("notify_new", "yes", "on or off"),
    ],
)
def test_settings_are_checked(
    store: Store, capsys: pytest.CaptureFixture[str], key: str, value: str, error: str
) -> None:
    code, _, err = run(capsys, "settings", key, value)
    assert code == 1 and error in err
    assert store.setting(key) is None


def test_settings_list_shows_every_setting_with_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    from mcpguard.settings import SETTINGS

    _, out, _ = run(capsys, "settings")
    assert [line.split(" = ")[0] for line in out.splitlines()] == list(SETTINGS)
    assert "first_list_hold = 25" in out


URL = "https://mcp.example/mcp"


@pytest.mark.parametrize(
    "argv",
    [
        [URL, "--name", "x"],
        ["--name=x", URL],
        [URL, "--name", "x", "--client", "claude", "--header", "A=1", "--header=B: 2", "--timeout", "2.5"],
        [URL, "--name", "x", "--scope", "mcp read", "--client-id", "id", "--client-metadata-url=https://c.example/m"],
        [URL, "--name", "x", "--trust-issuer", "https://as.example", "--name", "y", "--header="],
        [URL, "--name", "x", "--timeout=-1"],
    ],
)
def test_remote_fast_path_reads_what_argparse_reads(argv: list[str]) -> None:
    from mcpguard import cli

    fast = cli._parse_remote(argv)
    full = cli._parser().parse_args(["remote", *argv])
    assert fast is not None
    assert fast == (cli._remote_options(full), full.client)


@pytest.mark.parametrize(
    "argv",
    [
        ["logout", "x"],
        [URL],
        [URL, "--name", ""],
        [URL, "--name", "x", "-h"],
        [URL, "--nam", "x"],
        [URL, "--name", "x", "--timeout", "soon"],
        [URL, "--name", "x", "--timeout", "-1"],
        [URL, "--name", "x", "--header"],
        [URL, "--name", "x", "--", "more"],
        [URL, URL, "--name", "x"],
    ],
)
def test_remote_fast_path_leaves_the_rest_to_argparse(argv: list[str]) -> None:
    from mcpguard import cli

    assert cli._parse_remote(argv) is None


def test_remote_fast_path_keeps_the_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "remote", URL, "--name", "x", "--timeout", "0")
    assert code == 2 and "--timeout must be a positive number" in err
    code, _, err = run(capsys, "remote", URL, "--name", "")
    assert code == 2 and "usage: mcpguard remote URL --name NAME" in err


def test_remote_start_builds_no_argument_parser() -> None:
    """A bridge starts for every remote server each time a client starts: the full parser costs some 30 ms."""
    import subprocess
    import sys

    probe = (
        "import sys, json\n"
        "import mcpguard.remote.bridge as bridge\n"
        "def report(options, *, client):\n"
        "    print(json.dumps({'url': options.url, 'options': options._asdict(), 'modules': sorted(sys.modules)}))\n"
        "    return 0\n"
        "bridge.main = report\n"
        "from mcpguard.cli import main\n"
        f"main(['remote', {URL!r}, '--name', 'probe', '--header', 'A=1'])\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["url"] == URL and report["options"]["name"] == "probe" and report["options"]["headers"] == ["A=1"]
    assert [m for m in report["modules"] if m in ("argparse", "shutil", "mcpguard.settings")] == []
