"""Tokens a config sends to a server they were not issued for, or to two origins; never their values."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from mcpguard.cli import main
from mcpguard.clients.discovery import ServerEntry, discover
from mcpguard.clients.operations import make_plan
from mcpguard.clients.report import print_plan
from mcpguard.clients.table import EntryShape
from mcpguard.clients.token_audience import audience_flags, covers, reuse_flags, token_uses
from mcpguard.secrets.memory import MemoryStore
from tests.clients.conftest import Machine

SHAPE = EntryShape()
KEY = "test-signing-key-that-is-long-enough-for-hs256"
OPAQUE = "Zq8vN3rT6yW1pL4kX9cB2mJ7"
"""An API key with no shape a scanner knows: compared for reuse, nothing else."""


def _jwt(**claims: Any) -> str:
    return jwt.encode(claims, KEY, algorithm="HS256")


def _remote(url: str, token: str, header: str = "Authorization", scheme: str = "Bearer ") -> dict[str, Any]:
    return {"url": url, "headers": {header: f"{scheme}{token}"}}


def _flags(entry: dict[str, Any], now: float | None = None) -> list[tuple[str, str]]:
    return [(f.severity, f.reason) for f in audience_flags(token_uses(entry, SHAPE), now)]


def _write(path: Path, servers: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"mcpServers": servers}, indent=2), encoding="utf-8")
    return path


def _secret_parts(token: str) -> list[str]:
    """The token and the pieces of it that would give it away (a JWT's header part is the same for all)."""
    return [token, *(p for p in token.split(".")[1:] if p)] if token.startswith("eyJ") else [token, token[:8]]


# -- how audiences match a server's URL ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("audience", "url", "expected"),
    [
        ("https://api.example.com/mcp", "https://api.example.com/mcp", True),
        ("https://api.example.com/mcp/", "https://api.example.com/mcp", True),
        ("https://api.example.com/mcp", "https://api.example.com/mcp/", True),
        ("https://api.example.com", "https://api.example.com/mcp", True),
        ("https://api.example.com/", "https://api.example.com/v1/mcp", True),
        ("https://api.example.com/v1", "https://api.example.com/v1/mcp", True),
        ("HTTPS://API.Example.com/mcp", "https://api.example.com/mcp", True),
        ("https://api.example.com:443/mcp", "https://api.example.com/mcp", True),
        ("https://api.example.com/mcp", "https://api.example.com/mcp?x=1", True),
        ("https://api.example.com/mc", "https://api.example.com/mcp", False),
        ("https://api.example.com/mcp/tools", "https://api.example.com/mcp", False),
        ("https://other.example.com/mcp", "https://api.example.com/mcp", False),
        ("https://api.example.com:8443/mcp", "https://api.example.com/mcp", False),
        ("http://api.example.com/mcp", "https://api.example.com/mcp", False),
        ("api://default", "https://api.example.com/mcp", False),
        ("account", "https://api.example.com/mcp", False),
    ],
)
def test_covers_compares_scheme_host_port_and_path_prefix(audience: str, url: str, expected: bool) -> None:
    assert covers(audience, url) is expected


# -- one entry's tokens -----------------------------------------------------------------------------------


def test_a_token_for_another_server_is_danger_and_names_audience_origin_and_header() -> None:
    token = _jwt(aud="https://github.example.com/mcp", sub="ana")
    [(severity, reason)] = _flags(_remote("https://mcp.acme.dev/v1/mcp", token))
    assert severity == "danger"
    assert reason == (
        "a token issued for https://github.example.com/mcp is sent to https://mcp.acme.dev (the Authorization header)"
    )
    assert all(part not in reason for part in _secret_parts(token))


@pytest.mark.parametrize(
    ("audience", "url"),
    [
        ("https://mcp.acme.dev/mcp", "https://mcp.acme.dev/mcp"),
        ("https://mcp.acme.dev/mcp/", "https://mcp.acme.dev/mcp"),
        ("https://mcp.acme.dev/mcp", "https://mcp.acme.dev/mcp/"),
        ("https://mcp.acme.dev", "https://mcp.acme.dev/mcp"),
        ("https://mcp.acme.dev/tenants/7", "https://mcp.acme.dev/tenants/7/mcp"),
        (["https://elsewhere.example", "https://mcp.acme.dev/mcp"], "https://mcp.acme.dev/mcp"),
    ],
)
def test_no_flag_for_a_token_issued_for_this_server(audience: str | list[str], url: str) -> None:
    future = time.time() + 3600
    assert _flags(_remote(url, _jwt(aud=audience, exp=int(future)))) == []


def test_an_audience_list_that_names_only_other_servers_is_danger() -> None:
    token = _jwt(aud=["https://a.example/mcp", "https://b.example/mcp", "https://c.example/mcp"])
    [(severity, reason)] = _flags(_remote("https://mcp.acme.dev/mcp", token))
    assert severity == "danger"
    assert "https://a.example/mcp, https://b.example/mcp and 1 more" in reason


def test_an_audience_that_is_no_url_is_a_warning() -> None:
    [(severity, reason)] = _flags(_remote("https://mcp.acme.dev/mcp", _jwt(aud="account")))
    assert severity == "warning"
    assert "issued for the audience account, not for this server" in reason


def test_an_expired_token_is_a_warning() -> None:
    expired = _jwt(aud="https://mcp.acme.dev/mcp", exp=1_700_000_000)
    assert _flags(_remote("https://mcp.acme.dev/mcp", expired)) == [
        (
            "warning",
            "an expired token (since 2023-11-14) is still sent to https://mcp.acme.dev (the Authorization header)",
        )
    ]
    assert _flags(_remote("https://mcp.acme.dev/mcp", expired), now=1_600_000_000) == []


def test_an_expired_token_for_another_server_gets_both_flags() -> None:
    token = _jwt(aud="https://other.example/mcp", exp=1_700_000_000)
    assert [s for s, _ in _flags(_remote("https://mcp.acme.dev/mcp", token))] == ["danger", "warning"]


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Authorization", f"Bearer {OPAQUE}"),
        ("X-Api-Key", OPAQUE),
        ("Authorization", "Bearer sk-proj-abcdefghijklmnopqrstuvwxyz0123"),
        ("Authorization", f"Bearer {_jwt(sub='no audience at all')}"),
    ],
)
def test_opaque_keys_and_jwts_without_audience_are_quiet(header: str, value: str) -> None:
    uses = token_uses({"url": "https://mcp.acme.dev/mcp", "headers": {header: value}}, SHAPE)
    assert len(uses) == 1
    assert audience_flags(uses) == []


@pytest.mark.parametrize(
    "value",
    [
        "Bearer @keyring:remote/acme/HEADER_Authorization",
        "@keyring:remote/acme/HEADER_Authorization",
        "Bearer ${env:ACME_TOKEN}",
        "Bearer ${ACME_TOKEN}",
        "${input:acme-token}",
        "Bearer {env:ACME_TOKEN}",
        "Bearer $ACME_TOKEN",
        "Bearer <YOUR_TOKEN>",
        "Bearer your-api-key",
    ],
)
def test_references_and_placeholders_are_not_tokens(value: str) -> None:
    assert token_uses({"url": "https://mcp.acme.dev/mcp", "headers": {"Authorization": value}}, SHAPE) == ()


def test_headers_that_are_not_credentials_are_ignored() -> None:
    entry = {"url": "https://mcp.acme.dev/mcp", "headers": {"X-Tenant": "acme-production-eu-west-1"}}
    assert token_uses(entry, SHAPE) == ()


def test_a_url_from_the_environment_cannot_be_judged() -> None:
    entry = _remote("${env:ACME_URL}", _jwt(aud="https://other.example"))
    assert token_uses(entry, SHAPE) == ()


def test_mcp_remote_header_argument_is_checked() -> None:
    token = _jwt(aud="https://other.example/mcp")
    entry = {
        "command": "npx",
        "args": ["mcp-remote@0.1.29", "https://mcp.acme.dev/sse", "--header", f"Authorization: Bearer {token}"],
    }
    [(severity, reason)] = _flags(entry)
    assert severity == "danger"
    assert reason.endswith("is sent to https://mcp.acme.dev (the Authorization header)")


def test_mcp_remote_header_from_the_entrys_env_block_is_checked() -> None:
    token = _jwt(aud="https://other.example/mcp")
    entry = {
        "command": "npx",
        "args": ["mcp-remote", "https://mcp.acme.dev/sse", "--header", "Authorization:${AUTH_HEADER}"],
        "env": {"AUTH_HEADER": f"Bearer {token}"},
    }
    [(severity, reason)] = _flags(entry)
    assert severity == "danger"
    assert reason.endswith("(the variable AUTH_HEADER)")


def test_a_local_server_given_a_url_and_a_token_is_checked() -> None:
    token = _jwt(aud="https://jira.example.com")
    entry = {
        "command": "uvx",
        "args": ["acme-mcp==1.2.0", "--base-url", "https://confluence.example.com/wiki", f"--token={token}"],
    }
    [(severity, reason)] = _flags(entry)
    assert (severity, reason) == (
        "danger",
        "a token issued for https://jira.example.com is sent to https://confluence.example.com (the argument --token)",
    )
    env_entry = {"command": "acme-mcp", "env": {"ACME_URL": "https://confluence.example.com", "ACME_JWT": token}}
    assert [s for s, _ in _flags(env_entry)] == ["danger"]


def test_a_local_server_without_a_url_is_left_alone() -> None:
    entry = {"command": "acme-mcp", "env": {"ACME_JWT": _jwt(aud="https://jira.example.com")}}
    assert token_uses(entry, SHAPE) == ()


def test_a_local_servers_opaque_env_key_is_not_a_header_token() -> None:
    entry = {"command": "acme-mcp", "env": {"ACME_URL": "https://confluence.example.com", "ACME_KEY": OPAQUE}}
    assert token_uses(entry, SHAPE) == ()


def test_the_value_never_shows_in_the_use() -> None:
    token = _jwt(aud="https://other.example/mcp")
    [use] = token_uses(_remote("https://mcp.acme.dev/mcp", token), SHAPE)
    assert all(part not in repr(use) for part in _secret_parts(token))
    assert all(part not in use.digest for part in _secret_parts(token))


# -- the same token sent to two origins ---------------------------------------------------------------------


def test_reuse_across_entries_with_different_origins_is_danger_on_each() -> None:
    a = token_uses(_remote("https://mcp.acme.dev/mcp", OPAQUE), SHAPE)
    b = token_uses(_remote("https://mcp.other.dev/mcp", OPAQUE, header="X-Api-Key", scheme=""), SHAPE)
    c = token_uses(_remote("https://mcp.acme.dev/other", OPAQUE), SHAPE)
    d = token_uses(_remote("https://mcp.third.dev/mcp", "Zq8vN3rT6yW1pL4kX9cB2mJ8"), SHAPE)
    flags = reuse_flags([("'a' of Cursor", a), ("'b' of Claude Code", b), ("'c' of Cursor", c), ("'d' of Zed", d)])
    assert [[f.severity for f in fs] for fs in flags] == [["danger"], ["danger"], ["danger"], []]
    assert flags[0][0].reason == (
        "the token in the Authorization header is also sent to https://mcp.other.dev by 'b' of Claude Code: "
        "either server can use it at the other"
    )
    assert flags[1][0].reason.startswith(
        "the token in the X-Api-Key header is also sent to https://mcp.acme.dev by 'a' of Cursor and 1 other entries"
    )


def test_reuse_for_the_same_origin_is_fine() -> None:
    a = token_uses(_remote("https://mcp.acme.dev/mcp", OPAQUE), SHAPE)
    b = token_uses(_remote("https://mcp.acme.dev/mcp/", OPAQUE), SHAPE)
    assert reuse_flags([("a", a), ("b", b)]) == [[], []]


# -- through discovery and the CLI ------------------------------------------------------------------------


@pytest.fixture
def token_configs(fake_env: Machine) -> dict[str, str]:
    """Cursor and Claude Code configs on the fake machine: a misdirected JWT, a reused key, clean entries."""
    tokens = {
        "misdirected": _jwt(aud="https://github.example.com/mcp", exp=int(time.time()) + 3600),
        "right": _jwt(aud="https://mcp.acme.dev/mcp/", exp=int(time.time()) + 3600),
        "reused": OPAQUE,
    }
    _write(
        fake_env.home / ".cursor" / "mcp.json",
        {
            "acme": _remote("https://mcp.acme.dev/mcp", tokens["right"]),
            "issues": _remote("https://issues.acme.dev/mcp", tokens["misdirected"]),
            "search": _remote("https://search.example.net/mcp", tokens["reused"], header="X-Api-Key", scheme=""),
            "kept": {"url": "https://kept.acme.dev/mcp", "headers": {"Authorization": "@keyring:remote/kept/X"}},
        },
    )
    _write(
        fake_env.home / ".claude.json",
        {
            "bridge": {
                "command": "npx",
                "args": ["mcp-remote", "https://tools.acme.dev/sse", "--header", "Authorization:${AUTH_HEADER}"],
                "env": {"AUTH_HEADER": f"Bearer {OPAQUE}"},
            },
        },
    )
    return tokens


def _server(entries: list[ServerEntry], name: str) -> ServerEntry:
    return next(s for s in entries if s.name == name)


def test_discover_flags_across_clients(token_configs: dict[str, str], fake_env: Machine) -> None:
    entries = [s for c in discover(fake_env.env, "linux") for s in c.servers]
    assert _server(entries, "acme").token_flags == ()
    assert _server(entries, "kept").token_flags == ()
    [misdirected] = _server(entries, "issues").token_flags
    assert misdirected.severity == "danger" and "https://github.example.com/mcp" in misdirected.reason
    [search] = _server(entries, "search").token_flags
    assert search.reason.startswith("the token in the X-Api-Key header is also sent to https://tools.acme.dev by ")
    assert "'bridge' of Claude Code" in search.reason
    [bridge] = _server(entries, "bridge").token_flags
    assert bridge.severity == "danger" and "'search' of Cursor" in bridge.reason
    shown = repr(entries) + "".join(f.reason for s in entries for f in s.token_flags)
    assert all(part not in shown for t in token_configs.values() for part in _secret_parts(t))


def test_clients_command_shows_the_flags_and_never_the_tokens(
    token_configs: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["clients"]) == 0
    text = capsys.readouterr().out
    assert (
        "! danger: a token issued for https://github.example.com/mcp is sent to https://issues.acme.dev "
        "(the Authorization header)" in text
    )
    assert "! danger: the token in the X-Api-Key header is also sent to https://tools.acme.dev" in text
    assert "! danger: the token in the variable AUTH_HEADER is also sent to https://search.example.net" in text
    assert main(["clients", "--json"]) == 0
    raw = capsys.readouterr().out
    servers = {s["name"]: s for c in json.loads(raw) for s in c["servers"]}
    assert [f["severity"] for f in servers["issues"]["flags"]] == ["danger"]
    assert servers["acme"]["flags"] == []
    for output in (text, raw):
        assert all(part not in output for t in token_configs.values() for part in _secret_parts(t))


def test_the_wrap_plan_shows_token_flags(fake_env: Machine) -> None:
    misdirected = _jwt(aud="https://github.example.com/mcp")
    _write(
        fake_env.home / ".cursor" / "mcp.json",
        {
            "issues": _remote("https://issues.acme.dev/mcp", misdirected),
            "wiki": {"command": "acme-wiki", "env": {"WIKI_URL": "https://wiki.acme.dev", "WIKI_JWT": misdirected}},
        },
    )
    plan = make_plan(
        "wrap", discover(fake_env.env, "linux"), launcher=["/opt/mcpguard"], secrets=MemoryStore(), remote=True
    )
    out = io.StringIO()
    print_plan(plan, out)
    text = out.getvalue()
    assert "! danger: a token issued for https://github.example.com/mcp is sent to https://issues.acme.dev" in text
    assert "! danger: a token issued for https://github.example.com/mcp is sent to https://wiki.acme.dev" in text
    assert text.count("a token issued for") == 2
    assert all(part not in text for part in _secret_parts(misdirected))
