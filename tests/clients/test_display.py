"""Commands as shown: whole, except literal credentials, which read ``[hidden: token]``."""

from __future__ import annotations

import jwt
import pytest

from mcpguard.clients.display import HIDDEN, entry_secrets, shown_argv, shown_command, shown_text
from mcpguard.clients.table import EntryShape
from tests.secrets.conftest import GITHUB_TOKEN, OPENAI_KEY

JWT = jwt.encode({"aud": "https://issues.acme.dev/mcp"}, "test-signing-key-that-is-long-enough-for-hs256")
OPAQUE = "Zq8vN3rT6yW1pL4kX9cB2mJ7"
"""An API key of no known shape: only its name or place says it is one."""


def test_a_bearer_jwt_in_an_mcp_remote_header_keeps_the_header_and_the_scheme() -> None:
    argv = ["npx", "-y", "mcp-remote", "https://x.example/mcp", "--header", f"Authorization: Bearer {JWT}"]
    assert shown_argv(argv) == (*argv[:-1], f"Authorization: Bearer {HIDDEN}")
    assert shown_command(argv) == (
        "npx -y mcp-remote https://x.example/mcp --header 'Authorization: Bearer [hidden: token]'"
    )


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["--header", f"X-Api-Key:{OPAQUE}"], ["--header", f"X-Api-Key:{HIDDEN}"]),  # mcp-remote's NAME:VALUE
        (["--header", f"X-Api-Key: {OPAQUE}"], ["--header", f"X-Api-Key: {HIDDEN}"]),
        (["--header", f"X-Api-Key={OPAQUE}"], ["--header", f"X-Api-Key={HIDDEN}"]),  # mcpguard remote's NAME=VALUE
        (["-H", f"Authorization: Token {OPAQUE}"], ["-H", f"Authorization: Token {HIDDEN}"]),
        ([f"--header=Authorization: Bearer {OPAQUE}"], [f"--header=Authorization: Bearer {HIDDEN}"]),
        (["--api-key", OPAQUE], ["--api-key", HIDDEN]),
        ([f"--api-key={OPAQUE}"], [f"--api-key={HIDDEN}"]),
        ([f"API_TOKEN={OPAQUE}"], [f"API_TOKEN={HIDDEN}"]),
        (["-e", f"GITHUB_PERSONAL_ACCESS_TOKEN={OPAQUE}"], ["-e", f"GITHUB_PERSONAL_ACCESS_TOKEN={HIDDEN}"]),
        ([f"Bearer {OPAQUE}"], [f"Bearer {HIDDEN}"]),
        ([JWT], [HIDDEN]),
    ],
)
def test_named_and_placed_tokens_are_hidden_and_their_names_kept(argv: list[str], shown: list[str]) -> None:
    assert list(shown_argv(["server", *argv])) == ["server", *shown]


@pytest.mark.parametrize(
    ("arg", "shown"),
    [
        (GITHUB_TOKEN, HIDDEN),
        (f"--github-pat={GITHUB_TOKEN}", f"--github-pat={HIDDEN}"),
        (f"--openai={OPENAI_KEY}", f"--openai={HIDDEN}"),
        (f"config={{'token': '{GITHUB_TOKEN}'}}", f"config={{'token': '{HIDDEN}'}}"),
        ("postgresql://app:hunter2pass@db.internal/app", f"postgresql://app:{HIDDEN}@db.internal/app"),
        (f"https://api.example/x?auth={JWT}", f"https://api.example/x?auth={HIDDEN}"),
    ],
)
def test_known_key_shapes_are_hidden_wherever_they_are(arg: str, shown: str) -> None:
    assert shown_argv(["server", "--flag", arg]) == ("server", "--flag", shown)


@pytest.mark.parametrize(
    "argv",
    [
        [
            "mcpguard",
            "remote",
            "https://x.example/mcp",
            "--header",
            "Authorization=@keyring:remote/x/HEADER_Authorization",
        ],
        ["npx", "mcp-remote", "https://x.example/mcp", "--header", "Authorization: Bearer ${AUTH_TOKEN}"],
        ["npx", "mcp-remote", "https://x.example/mcp", "--header", "Authorization:${AUTH_HEADER}"],
        ["server", "--api-key", "${env:API_KEY}", "--token", "$GITHUB_TOKEN", "API_KEY={env:KEY}"],
        ["server", "--api-key", "<your-api-key>", "--password", "changeme"],
        ["docker", "run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", "ghcr.io/github/github-mcp-server"],
    ],
)
def test_references_and_placeholders_are_left_as_written(argv: list[str]) -> None:
    assert shown_argv(argv) == tuple(argv)


def test_ordinary_arguments_are_untouched() -> None:
    argv = [
        "npx",
        "-y",
        "@modelcontextprotocol/server-filesystem@2025.8.21",
        "/home/ana/My Documents",
        "--port",
        "8080",
        "https://search.acme.dev/mcp",
        "--token-file",
        "/run/secrets/token",
        "--key",
        "~/.ssh/id_ed25519",
        "--auth-type",
        "oauth",
        "mode=fast",
        "--header",
        "Accept: text/event-stream",
        "C:\\Program Files\\server.exe",
    ]
    assert shown_argv(argv) == tuple(argv)
    assert shown_command(argv) == (
        "npx -y @modelcontextprotocol/server-filesystem@2025.8.21 '/home/ana/My Documents' --port 8080 "
        "https://search.acme.dev/mcp --token-file /run/secrets/token --key '~/.ssh/id_ed25519' --auth-type oauth "
        "mode=fast --header 'Accept: text/event-stream' 'C:\\Program Files\\server.exe'"
    )


def test_the_argv_given_is_not_changed() -> None:
    argv = ["server", "--api-key", OPAQUE]
    shown_argv(argv)
    assert argv == ["server", "--api-key", OPAQUE]


def test_text_hides_known_values_also_json_escaped_and_shapes() -> None:
    secret = 'pa"ss-' + OPAQUE
    text = f'"env": {{"API_KEY": "pa\\"ss-{OPAQUE}", "GH": "{GITHUB_TOKEN}", "LEVEL": "debug"}}'
    assert shown_text(text, [secret]) == f'"env": {{"API_KEY": "{HIDDEN}", "GH": "{HIDDEN}", "LEVEL": "debug"}}'
    assert shown_text("https://mcp.sentry.dev/mcp") == "https://mcp.sentry.dev/mcp"
    assert shown_text("https://ana:s3cret-pass@mcp.example/mcp") == f"https://ana:{HIDDEN}@mcp.example/mcp"


def test_entry_secrets_are_the_values_only_their_name_or_place_gives_away() -> None:
    entry = {
        "command": "acme",
        "args": ["--api-key", OPAQUE, "--header", f"Authorization: Bearer {OPAQUE}-2", "--verbose"],
        "env": {"SEARCH_TOKEN": f"{OPAQUE}-3", "LOG_LEVEL": "debug", "AUTH": "Bearer " + f"{OPAQUE}-4"},
        "headers": {"X-Api-Key": f"{OPAQUE}-5", "X-Team": "platform", "Authorization": "@keyring:x"},
    }
    assert entry_secrets(entry, EntryShape()) == {OPAQUE, f"{OPAQUE}-2", f"{OPAQUE}-3", f"{OPAQUE}-4", f"{OPAQUE}-5"}
    assert entry_secrets({"command": "uvx", "args": ["mcp-server-time"]}, EntryShape()) == set()
    assert entry_secrets("not an entry", EntryShape()) == set()
