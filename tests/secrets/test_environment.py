"""The minimal environment: base + declared + secrets; dangerous families stripped in every mode."""

from __future__ import annotations

import pytest

from mcpguard.secrets.environment import is_dangerous, plan_environment, server_environment

CLIENT_ENV = {
    "PATH": "/usr/bin",
    "HOME": "/home/ana",
    "USER": "ana",
    "LANG": "de_DE.UTF-8",
    "LC_TIME": "de_DE.UTF-8",
    "TMPDIR": "/tmp",
    "XDG_CACHE_HOME": "/home/ana/.cache",
    "HTTPS_PROXY": "http://proxy:3128",
    "NODE_EXTRA_CA_CERTS": "/etc/ssl/corp.pem",
    "AWS_SECRET_ACCESS_KEY": "from-the-users-shell",
    "SSH_AUTH_SOCK": "/run/user/1000/ssh",
    "DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/1000/bus",
    "DISPLAY": ":0",
    "GITHUB_TOKEN": "declared-by-the-entry",
    "LOG_LEVEL": "debug",
    "LD_PRELOAD": "/tmp/evil.so",
    "NODE_OPTIONS": "--require /tmp/evil.js",
    "PYTHONPATH": "/tmp/evil",
    "PYTHONIOENCODING": "utf-8",
    "BASH_FUNC_ls%%": "() { rm -rf ~; }",
    "INNOCENT": "() { echo shellshock; }",
}


def test_minimal_environment() -> None:
    plan = plan_environment(CLIENT_ENV, {"GITHUB_TOKEN", "LOG_LEVEL", "PYTHONIOENCODING"}, {}, platform="linux")
    assert plan.env == {
        "PATH": "/usr/bin",
        "HOME": "/home/ana",
        "USER": "ana",
        "LANG": "de_DE.UTF-8",
        "LC_TIME": "de_DE.UTF-8",
        "TMPDIR": "/tmp",
        "XDG_CACHE_HOME": "/home/ana/.cache",
        "HTTPS_PROXY": "http://proxy:3128",
        "NODE_EXTRA_CA_CERTS": "/etc/ssl/corp.pem",
        "GITHUB_TOKEN": "declared-by-the-entry",
        "LOG_LEVEL": "debug",
        "PYTHONIOENCODING": "utf-8",
    }
    assert plan.stripped == ["BASH_FUNC_ls%%", "INNOCENT", "LD_PRELOAD", "NODE_OPTIONS", "PYTHONPATH"]
    assert plan.dropped == ["AWS_SECRET_ACCESS_KEY", "DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "SSH_AUTH_SOCK"]
    assert plan.injected == []


def test_secrets_are_added_and_win() -> None:
    env = server_environment(
        CLIENT_ENV, {"GITHUB_TOKEN"}, {"GITHUB_TOKEN": "from-keyring", "X_KEY": "k"}, platform="linux"
    )
    assert env["GITHUB_TOKEN"] == "from-keyring"
    assert env["X_KEY"] == "k"


def test_declared_dangerous_variables_are_still_stripped() -> None:
    env = server_environment(CLIENT_ENV, {"LD_PRELOAD", "NODE_OPTIONS"}, {}, platform="linux")
    assert "LD_PRELOAD" not in env and "NODE_OPTIONS" not in env


def test_full_passthrough_keeps_everything_but_the_dangerous() -> None:
    plan = plan_environment(CLIENT_ENV, set(), {}, full_passthrough=True, platform="linux")
    assert plan.env["SSH_AUTH_SOCK"] == "/run/user/1000/ssh"
    assert plan.env["AWS_SECRET_ACCESS_KEY"] == "from-the-users-shell"
    assert plan.dropped == []
    assert "LD_PRELOAD" in plan.stripped and "LD_PRELOAD" not in plan.env


def test_unknown_declarations_pass_everything_but_the_dangerous() -> None:
    """An entry wrapped before mcpguard recorded ``--env-keys``: nothing it needs may go missing."""
    plan = plan_environment(CLIENT_ENV, None, {}, platform="linux")
    assert plan.env["LOG_LEVEL"] == "debug" and plan.env["DISPLAY"] == ":0"
    assert "NODE_OPTIONS" not in plan.env


def test_allow_passes_and_exempts_by_name_or_prefix() -> None:
    env = server_environment(
        CLIENT_ENV, set(), {}, allow=["LD_PRELOAD", "DISPLAY", "AWS_*", "PYTHON*"], platform="linux"
    )
    assert env["LD_PRELOAD"] == "/tmp/evil.so"
    assert env["DISPLAY"] == ":0"
    assert env["AWS_SECRET_ACCESS_KEY"] == "from-the-users-shell"
    assert env["PYTHONPATH"] == "/tmp/evil"
    assert "NODE_OPTIONS" not in env


@pytest.mark.parametrize(
    "name",
    [
        "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "DYLD_INSERT_LIBRARIES", "NODE_OPTIONS", "PYTHONSTARTUP",
        "PYTHONPATH", "PYTHONHOME", "PYTHONWARNINGS", "PYTHONBREAKPOINT", "OPENSSL_CONF", "BASH_ENV", "ENV",
        "PERL5OPT", "RUBYOPT", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "GIT_SSH_COMMAND", "GIT_CONFIG_KEY_0",
        "DOTNET_STARTUP_HOOKS", "CORECLR_PROFILER_PATH", "ELECTRON_RUN_AS_NODE", "SSLKEYLOGFILE", "node_options",
    ],
)  # fmt: skip
def test_dangerous_families(name: str) -> None:
    assert is_dangerous(name)


@pytest.mark.parametrize(
    "name", ["PATH", "PYTHONIOENCODING", "PYTHONUNBUFFERED", "NODE_ENV", "GIT_AUTHOR_NAME", "LANG", "LOG_LEVEL"]
)
def test_harmless_relatives(name: str) -> None:
    assert not is_dangerous(name)


def test_windows_names_ignore_case() -> None:
    parent = {
        "Path": "C:\\Windows",
        "SystemRoot": "C:\\Windows",
        "ComSpec": "C:\\Windows\\cmd.exe",
        "PATHEXT": ".COM;.EXE;.CMD",
        "USERPROFILE": "C:\\Users\\ana",
        "Github_Token": "declared",
        "Node_Options": "--require x",
        "OneDrive": "C:\\Users\\ana\\OneDrive",
    }
    plan = plan_environment(parent, {"GITHUB_TOKEN"}, {"GITHUB_TOKEN": "secret"}, platform="win32")
    assert plan.env == {
        "Path": "C:\\Windows",
        "SystemRoot": "C:\\Windows",
        "ComSpec": "C:\\Windows\\cmd.exe",
        "PATHEXT": ".COM;.EXE;.CMD",
        "USERPROFILE": "C:\\Users\\ana",
        "GITHUB_TOKEN": "secret",
    }
    assert plan.stripped == ["Node_Options"]
    assert plan.dropped == ["OneDrive"]


def test_the_module_imports_nothing() -> None:
    import subprocess
    import sys

    probe = (
        "import sys\nbefore = set(sys.modules)\n"
        "from mcpguard.secrets.environment import server_environment\n"
        "server_environment({'PATH': '/bin'}, set(), {}, platform='linux')\n"
        "new = set(sys.modules) - before\n"
        "print(sorted(m for m in new if not m.startswith(('mcpguard', '__future__'))))\n"
    )
    out = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True, check=True, timeout=30)
    assert out.stdout.strip() == "[]"
