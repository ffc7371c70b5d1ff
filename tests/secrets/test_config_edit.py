"""Removing variables from an entry's env block, in every format, touching nothing else."""

from __future__ import annotations

import pytest

from mcpguard.clients.errors import UnsupportedEntry
from mcpguard.clients.formats import load
from mcpguard.secrets.config_edit import remove_variables

JSON = """{
  "mcpServers": {
    "github": {
      "command": "npx",
      "env": {
        "GITHUB_TOKEN": "t1-secret",
        "LOG_LEVEL": "debug",
        "API_KEY": "t2-secret"
      }
    }
  },
  "other": 1
}
"""


def test_json_middle_first_last_and_only() -> None:
    at = ("mcpServers", "github")
    text = remove_variables(JSON, "json", "x.json", at, "env", ["GITHUB_TOKEN"])
    assert text == JSON.replace('        "GITHUB_TOKEN": "t1-secret",\n', "")
    text = remove_variables(JSON, "json", "x.json", at, "env", ["API_KEY"])
    assert text == JSON.replace(',\n        "API_KEY": "t2-secret"', "")
    text = remove_variables(JSON, "json", "x.json", at, "env", ["GITHUB_TOKEN", "API_KEY"])
    assert load(text, "json", "x").data["mcpServers"]["github"]["env"] == {"LOG_LEVEL": "debug"}
    text = remove_variables(JSON, "json", "x.json", at, "env", ["GITHUB_TOKEN", "API_KEY", "LOG_LEVEL"])
    assert '"env": {}' in text
    assert text.replace('"env": {}', "") == JSON[: JSON.index('"env"')] + JSON[JSON.index("}") + 1 :]


def test_absent_names_change_nothing() -> None:
    assert remove_variables(JSON, "json", "x.json", ("mcpServers", "github"), "env", ["NOPE"]) is JSON


def test_jsonc_keeps_comments_and_trailing_commas() -> None:
    text = """{
\t// servers
\t"servers": {
\t\t"p": {
\t\t\t"command": "npx",
\t\t\t"env": {
\t\t\t\t"A": "keep", // kept
\t\t\t\t"PERPLEXITY_API_KEY": "pplx-secret-123", // the key
\t\t\t},
\t\t},
\t},
}
"""
    out = remove_variables(text, "jsonc", "x.json", ("servers", "p"), "env", ["PERPLEXITY_API_KEY"])
    assert "pplx-secret-123" not in out
    assert "// servers" in out and '"A": "keep", // kept' in out
    assert load(out, "jsonc", "x").data["servers"]["p"]["env"] == {"A": "keep"}


YAML = """extensions:
  github:
    cmd: npx
    envs:
      GITHUB_PERSONAL_ACCESS_TOKEN: ghp_secretvalue  # pasted
      'QUOTED_TOKEN': 'it''s-secret'
      OTHER: "keep"
    name: github
mcpServers:
  - name: a
    command: x
    env: {TOKEN: abcdef-secret}
"""


def test_yaml_block_mapping_lines() -> None:
    out = remove_variables(
        YAML, "yaml", "c.yaml", ("extensions", "github"), "envs", ["GITHUB_PERSONAL_ACCESS_TOKEN", "QUOTED_TOKEN"]
    )
    assert out == YAML.replace(
        "      GITHUB_PERSONAL_ACCESS_TOKEN: ghp_secretvalue  # pasted\n      'QUOTED_TOKEN': 'it''s-secret'\n", ""
    )


def test_yaml_last_variable_leaves_an_empty_mapping_not_null() -> None:
    names = ["GITHUB_PERSONAL_ACCESS_TOKEN", "QUOTED_TOKEN", "OTHER"]
    out = remove_variables(YAML, "yaml", "c.yaml", ("extensions", "github"), "envs", names)
    assert "    envs: {}\n    name: github\n" in out
    assert load(out, "yaml", "c").data["extensions"]["github"]["envs"] == {}


def test_yaml_flow_mapping_only_as_a_whole() -> None:
    out = remove_variables(YAML, "yaml", "c.yaml", ("mcpServers", 0), "env", ["TOKEN"])
    assert "    env: {}\n" in out
    two = YAML.replace("{TOKEN: abcdef-secret}", "{TOKEN: abcdef-secret, KEEP: x}")
    with pytest.raises(UnsupportedEntry, match="flow style"):
        remove_variables(two, "yaml", "c.yaml", ("mcpServers", 0), "env", ["TOKEN"])


def test_yaml_block_scalars_are_refused() -> None:
    text = "s:\n  a:\n    cmd: x\n    envs:\n      KEY: |\n        multi\n        line\n"
    with pytest.raises(UnsupportedEntry):
        remove_variables(text, "yaml", "c.yaml", ("s", "a"), "envs", ["KEY"])


TOML = """[mcp_servers]
echo = { command = "my-echo-server", env = { DEBUG = "1", TOKEN = "abcdef-secret" } }

[mcp_servers.docs]
command = 'C:\\Tools\\docs-mcp.exe'   # Windows build

[mcp_servers.docs.env]
DOCS_TOKEN = "t0k3n-secret"  # pasted
OTHER = "x"
"""


def test_toml_tables_and_inline_tables() -> None:
    out = remove_variables(TOML, "toml", "c.toml", ("mcp_servers", "docs"), "env", ["DOCS_TOKEN"])
    assert "t0k3n-secret" not in out
    assert "# Windows build" in out and 'OTHER = "x"' in out
    out = remove_variables(out, "toml", "c.toml", ("mcp_servers", "echo"), "env", ["TOKEN"])
    assert "abcdef-secret" not in out
    assert load(out, "toml", "c").data["mcp_servers"]["echo"]["env"] == {"DEBUG": "1"}
