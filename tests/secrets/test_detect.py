"""Detection: secrets by name and by shape, and the everyday values that are not secrets."""

from __future__ import annotations

import json

import pytest

from mcpguard.secrets.detect import (
    classify,
    is_placeholder,
    is_secret_name,
    scan_entry,
    secrets_in_environment,
    shape_of,
    url_password,
)
from tests.clients.conftest import FIXTURES
from tests.secrets.conftest import ANTHROPIC_KEY, AWS_KEY_ID, GITHUB_TOKEN, OPENAI_KEY

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (GITHUB_TOKEN, "github-token"),
        ("gho_" + "x" * 36, "github-token"),
        ("github_pat_11ABCDEFG0" + "a" * 12 + "_" + "b" * 59, "github-token"),
        (OPENAI_KEY, "openai-key"),
        ("sk-" + "T3BlbkFJ" * 6, "openai-key"),
        (ANTHROPIC_KEY, "anthropic-key"),
        ("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "slack-token"),
        ("xoxp-1234-5678-abcdefgh", "slack-token"),
        (AWS_KEY_ID, "aws-access-key-id"),
        ("ASIA" + "Y" * 16, "aws-access-key-id"),
        ("AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"[:35], "google-api-key"),
        ("sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", "stripe-key"),
        ("rk_test_" + "4eC39HqLyjWDarjtT1zdp7dc", "stripe-key"),
        ("glpat-" + "x1y2z3" * 4, "gitlab-token"),
        ("hf_" + "AbCdEfGhIj" * 3 + "kl", "huggingface-token"),
        ("npm_" + "a1" * 18, "npm-token"),
        (JWT, "jwt"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA==\n-----END OPENSSH PRIVATE KEY-----", "private-key"),
        (json.dumps({"auth": {"token": GITHUB_TOKEN}}), "github-token"),  # inside any text
    ],
)
def test_shapes(value: str, kind: str) -> None:
    shape = shape_of(value)
    assert shape is not None and shape.kind == kind


@pytest.mark.parametrize(
    "value",
    [
        "task-abcdefghijklmnopqrstuvwxyz0123",  # "sk-" inside a word
        "desk-" + "a" * 30,
        "ghp_short",
        "AKIAshort",
        "eyJhbGciOi.notajwt",
        "a" * 40,
        "3f786850e387550fdab836ed7e6dc881de23001b",  # a git commit hash
        "https://api.github.com/repos/ghp_/x",
    ],
)
def test_things_that_only_resemble_secrets(value: str) -> None:
    assert shape_of(value) is None


@pytest.mark.parametrize(
    "name",
    [
        "GITHUB_TOKEN", "GITHUB_PERSONAL_ACCESS_TOKEN", "OPENAI_API_KEY", "DB_PASSWORD", "PGPASSWORD", "SMTP_PASS",
        "AWS_SECRET_ACCESS_KEY", "CLIENT_SECRET", "GOOGLE_CREDENTIALS", "BASIC_AUTH", "Authorization", "X-Api-Key",
        "apiKey", "slackBotToken", "GH_PAT", "DB_PWD", "SIGNING_KEY", "LICENSE_KEY", "Cookie",
    ],
)  # fmt: skip
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "PATH", "HOME", "LOG_LEVEL", "PWD", "OLDPWD", "TOKEN_URL", "KEY_FILE", "SSH_KEY_PATH", "AUTH_TYPE",
        "AUTH_MODE", "PUBLIC_KEY", "STRIPE_PUBLISHABLE_KEY", "AWS_ACCESS_KEY_ID", "CLIENT_ID", "AUTHOR",
        "KEYBOARD_LAYOUT", "MONKEY", "COMPASS", "PASSWORD_STORE_DIR", "NODE_ENV", "SECRET_NAME", "TOKEN_ENDPOINT",
    ],
)  # fmt: skip
def test_names_that_are_not_secrets(name: str) -> None:
    assert not is_secret_name(name)


@pytest.mark.parametrize(
    "value",
    [
        "", "x", "t0k3n", "<YOUR_TOKEN>", "<token>", "[API_KEY]", "your-api-key", "YOUR_API_KEY_HERE", "xxxxxxxxxxxx",
        "********", "...", "changeme", "${input:perplexity-key}", "${EXTERNAL_API_KEY}", "$DB_CONNECTION_STRING",
        "%API_KEY%", "${{ secrets.ANTHROPIC_API_KEY }}", "{{api_key}}", "op://vault/item/field", "true", "123456789",
        "/home/ana/.config/gcloud/key.json", "~/.ssh/id_ed25519", "C:\\keys\\k.pem", "Bearer <YOUR_HF_TOKEN>",
        "Bearer your-api-token", "Bearer ${API_KEY}",
    ],
)  # fmt: skip
def test_placeholders_and_references(value: str) -> None:
    assert is_placeholder(value)
    assert classify("API_TOKEN", value) is None


def test_classify_by_name_and_by_shape() -> None:
    assert classify("GITHUB_TOKEN", GITHUB_TOKEN) == ("github-token", "a GitHub token by its shape")
    assert classify("CONFIG", GITHUB_TOKEN) is not None  # the shape is enough
    assert classify("DB_PASSWORD", "correct-horse") == ("name", "its name 'DB_PASSWORD' says it is a secret")
    assert classify("AWS_ACCESS_KEY_ID", AWS_KEY_ID) == ("aws-access-key-id", "an AWS access key id by its shape")
    assert classify("Authorization", "Bearer abcdef123456789xyz") is not None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LOG_LEVEL", "warn"),
        ("PATH", "/usr/local/bin:/usr/bin"),
        ("HOME", "/home/ana"),
        ("DATABASE_URL", "postgresql://localhost/shop"),
        ("API_URL", "https://api.example.com/v1?lang=en"),
        ("AUTH_SERVER", "https://auth.example.com"),
        ("API_KEY", "https://example.com/keys"),  # a URL without credentials, whatever the name says
        ("PYTHONIOENCODING", "utf-8"),
        ("NODE_ENV", "production"),
    ],
)
def test_everyday_variables_are_not_secrets(name: str, value: str) -> None:
    assert classify(name, value) is None


def test_urls_with_passwords() -> None:
    assert url_password("postgresql://app:hunter22@db.internal/app") == "hunter22"
    assert classify("DATABASE_URL", "postgresql://app:hunter22@db.internal/app") == (
        "url-password",
        "a URL with a password in it",
    )
    assert url_password("postgresql://app@db/app") is None
    assert url_password("postgresql://app:${DB_PASS}@db/app") is None


def test_scan_entry_looks_at_env_envs_headers_and_args() -> None:
    entry = {
        "command": "npx",
        "args": ["-y", "server", "--token", GITHUB_TOKEN, "--verbose"],
        "env": {"GITHUB_TOKEN": GITHUB_TOKEN, "LOG_LEVEL": "debug", "COUNT": 3},
        "envs": {"SMTP_PASSWORD": "correct-horse"},
        "headers": {"Authorization": f"Bearer {OPENAI_KEY}"},
    }
    found = {(d.where, d.key): d.kind for d in scan_entry(entry)}
    assert found == {
        ("env", "GITHUB_TOKEN"): "github-token",
        ("env", "SMTP_PASSWORD"): "name",
        ("headers", "Authorization"): "openai-key",
        ("args", "3"): "github-token",
    }


def test_a_detection_never_shows_its_value() -> None:
    (found,) = scan_entry({"env": {"GITHUB_TOKEN": GITHUB_TOKEN}})
    assert GITHUB_TOKEN not in repr(found)
    assert found.value == GITHUB_TOKEN


def test_the_fixture_corpus_has_only_placeholders_but_one() -> None:
    """The realistic configs are full of placeholders and references: none of them is a secret.

    The one exception is Cursor's ``"API_KEY": "sk-test-😀"``, which a user would indeed want moved.
    """
    from mcpguard.clients.formats import load

    hits = []
    for path in sorted(FIXTURES.iterdir()):
        if path.suffix not in (".json", ".yaml", ".toml") or path.name.startswith("corrupt"):
            continue
        fmt = {".json": "jsonc", ".yaml": "yaml", ".toml": "toml"}[path.suffix]
        data = load(path.read_text(encoding="utf-8-sig"), fmt, path.name).data  # type: ignore[arg-type]
        for top in ("mcpServers", "servers", "context_servers", "extensions", "mcp_servers", "mcp"):
            block = data.get(top) if isinstance(data, dict) else None
            if isinstance(block, dict) and top == "mcp":
                block = block.get("servers")
            entries = block.values() if isinstance(block, dict) else block if isinstance(block, list) else []
            for entry in entries:
                if isinstance(entry, dict):
                    hits += [(path.name, d.key) for d in scan_entry(entry)]
    assert hits == [("cursor_mcp.json", "API_KEY")]


def test_secrets_in_environment_for_the_shims_redactor() -> None:
    env = {
        "PATH": "/usr/bin",
        "GITHUB_TOKEN": GITHUB_TOKEN,
        "DATABASE_URL": "postgresql://app:hunter22@db/app",
        "API_KEY": "<YOUR_KEY>",
    }
    assert secrets_in_environment(env) == {"GITHUB_TOKEN": GITHUB_TOKEN, "DATABASE_URL": "hunter22"}
