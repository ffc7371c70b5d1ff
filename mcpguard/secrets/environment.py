"""The environment a guarded server starts with: a small base, what its entry declares, its secrets.

An AI client hands every server its own whole environment: every token exported in the user's
shell profile, ``SSH_AUTH_SOCK``, cloud credentials, and whatever variables happen to change how a
runtime loads code. A server needs far less. :func:`plan_environment` gives it

1. the **base**: what programs need to run, find their tools and reach the network
   (:data:`BASE_POSIX` or :data:`BASE_WINDOWS`, plus ``LC_*``). It is a superset of the list the MCP
   SDKs themselves pass by default (``DEFAULT_INHERITED_ENV_VARS``: ``HOME LOGNAME PATH SHELL TERM
   USER``; on Windows ``APPDATA HOMEDRIVE HOMEPATH LOCALAPPDATA PATH PROCESSOR_ARCHITECTURE
   SYSTEMDRIVE SYSTEMROOT TEMP USERNAME USERPROFILE PROGRAMFILES``), so a server that works when a
   client starts it directly works through mcpguard. Added to it, and why: locale (``LANG``,
   ``LANGUAGE``, ``LC_*``: output encoding), ``TZ``, temporary directories, the XDG base directories
   (``npx``/``uvx`` caches live there; without them every start re-downloads), CA bundles
   (``SSL_CERT_FILE``, ``SSL_CERT_DIR``, ``NODE_EXTRA_CA_CERTS``, ``REQUESTS_CA_BUNDLE``,
   ``CURL_CA_BUNDLE``) and proxies (``HTTP(S)_PROXY``, ``NO_PROXY``, ``ALL_PROXY``, either case),
   without which a corporate network is unreachable; on Windows ``PATHEXT`` and ``COMSPEC``
   (``npx.cmd`` cannot start without them) and the usual system folders. Deliberately *not* in it:
   ``SSH_AUTH_SOCK``, ``DBUS_SESSION_BUS_ADDRESS`` (the Secret Service is on that bus),
   ``DISPLAY``/``WAYLAND_DISPLAY``/``XAUTHORITY``, ``GNUPGHOME``, cloud credential variables:
   a server that needs one gets it through its entry's ``env`` or ``allow``;
2. the variables its client config **declares** for it (the entry's ``env`` block), by name;
3. its **secrets** from the keyring, which override anything of the same name;

and drops everything else. A per-server setting restores **full pass-through** (everything the
client passed). In both modes the **dangerous families** (:data:`DANGEROUS_NAMES`,
:data:`DANGEROUS_PREFIXES`, ``PYTHON*`` but for :data:`SAFE_PYTHON`) are stripped, also when the
entry declares them, unless the user allows them by name (``allow``): each of them makes a
runtime load or run code that is not the server's (``LD_PRELOAD``, ``NODE_OPTIONS=--require``,
``PYTHONPATH``, ``BASH_ENV``, ``GIT_SSH_COMMAND``, ``OPENSSL_CONF`` engines, .NET and JVM agents)
or leaks what should stay private (``SSLKEYLOGFILE``). A config file is easier to tamper with than a
command the user approved, and an entry's ``env`` is not pinned, so declaring such a variable there
is not enough. Values starting with ``()`` (bash exported functions, Shellshock's vector) are
dropped too, as the MCP SDKs do.

This is hygiene, not a sandbox: the server still runs as the user and can read the user's files.

The module imports nothing (``sys`` only when no platform is given): the shim calls it at every start.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping

_CA_AND_PROXY = (
    "SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy", "all_proxy",
)  # fmt: skip

BASE_POSIX = frozenset(
    (
        "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LANGUAGE", "TZ",
        "TMPDIR", "TEMP", "TMP", "XDG_RUNTIME_DIR",
        "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_CONFIG_DIRS", "XDG_DATA_DIRS",
        *_CA_AND_PROXY,
    )
)  # fmt: skip
"""Passed to every server on Linux, macOS and other Unixes (with every ``LC_*``)."""

BASE_PREFIXES_POSIX = ("LC_",)

BASE_WINDOWS = frozenset(
    name.upper()
    for name in (
        "PATH", "PATHEXT", "SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "COMSPEC", "OS",
        "APPDATA", "LOCALAPPDATA", "PROGRAMDATA", "PROGRAMFILES", "PROGRAMFILES(X86)", "PROGRAMW6432",
        "COMMONPROGRAMFILES", "COMMONPROGRAMFILES(X86)", "COMMONPROGRAMW6432",
        "USERPROFILE", "HOMEDRIVE", "HOMEPATH", "USERNAME", "USERDOMAIN", "COMPUTERNAME",
        "TEMP", "TMP", "PROCESSOR_ARCHITECTURE", "NUMBER_OF_PROCESSORS", "LANG", "TZ",
        *_CA_AND_PROXY,
    )
)  # fmt: skip
"""Passed to every server on Windows (names compared without case, as Windows does)."""

DANGEROUS_NAMES = frozenset(
    (
        # Node.js and Electron: --require / --import run any module first; an Electron app becomes node
        "NODE_OPTIONS", "NODE_PATH", "NODE_REPL_EXTERNAL_MODULE", "ELECTRON_RUN_AS_NODE",
        # Perl, Ruby, Lua, PHP: options and library paths that load code
        "PERL5OPT", "PERL5LIB", "PERLLIB", "PERL5DB", "RUBYOPT", "RUBYLIB", "LUA_PATH", "LUA_CPATH", "PHPRC",
        "PHP_INI_SCAN_DIR",
        # JVM agents and options
        "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS",
        # shells: files sourced by non-interactive shells, tracing hooks, exported options
        "BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "PS4", "PROMPT_COMMAND", "IFS", "CDPATH", "GLOBIGNORE", "ZDOTDIR",
        # OpenSSL engines and providers load shared objects; a key log file leaks every TLS session
        "OPENSSL_CONF", "OPENSSL_ENGINES", "OPENSSL_MODULES", "SSLKEYLOGFILE",
        # git runs these commands
        "GIT_SSH", "GIT_SSH_COMMAND", "GIT_EXEC_PATH", "GIT_ASKPASS", "SSH_ASKPASS", "GIT_PROXY_COMMAND",
        "GIT_EXTERNAL_DIFF", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM",
        "GIT_TEMPLATE_DIR",
        # glibc: iconv modules and host aliases loaded from anywhere
        "GCONV_PATH", "HOSTALIASES",
        # .NET start-up hooks and profilers
        "DOTNET_STARTUP_HOOKS", "COR_ENABLE_PROFILING", "CORECLR_ENABLE_PROFILING",
    )
)  # fmt: skip
"""Stripped in every mode unless allowed by name (compared in upper case)."""

DANGEROUS_PREFIXES = (
    "LD_",  # LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT...
    "DYLD_",  # macOS's LD_*
    "BASH_FUNC_",  # exported bash functions
    "GIT_CONFIG_KEY_",
    "GIT_CONFIG_VALUE_",
    "COR_PROFILER",
    "CORECLR_PROFILER",
    "LUA_INIT",
    "PYTHON",  # PYTHONPATH, PYTHONHOME, PYTHONSTARTUP, PYTHONINSPECT, PYTHONBREAKPOINT...: see SAFE_PYTHON
)
"""Families stripped in every mode unless allowed (compared in upper case)."""

SAFE_PYTHON = frozenset(
    (
        "PYTHONIOENCODING", "PYTHONUNBUFFERED", "PYTHONUTF8", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED",
        "PYTHONNOUSERSITE", "PYTHONSAFEPATH", "PYTHONLEGACYWINDOWSSTDIO", "PYTHONFAULTHANDLER",
    )
)  # fmt: skip
"""``PYTHON*`` variables that change output or caching but load no code: MCP configs set them often."""


def is_dangerous(name: str) -> bool:
    """True for a variable of a family that makes a runtime load or run foreign code."""
    upper = name.upper()
    if upper in DANGEROUS_NAMES:
        return True
    if upper.startswith("PYTHON"):
        return upper not in SAFE_PYTHON
    return upper.startswith(DANGEROUS_PREFIXES)


def _matcher(patterns: Iterable[str], fold: bool) -> tuple[frozenset[str], tuple[str, ...]]:
    """Exact names and ``PREFIX*`` patterns, case-folded when the platform ignores case."""
    exact: set[str] = set()
    prefixes: list[str] = []
    for pattern in patterns:
        p = pattern.upper() if fold else pattern
        if p.endswith("*"):
            prefixes.append(p[:-1])
        elif p:
            exact.add(p)
    return frozenset(exact), tuple(prefixes)


class EnvironmentPlan:
    """What :func:`plan_environment` decided, with the names (never the values) it left out."""

    __slots__ = ("dropped", "env", "injected", "stripped")

    def __init__(self, env: dict[str, str], stripped: list[str], dropped: list[str], injected: list[str]) -> None:
        self.env = env
        """The environment to start the server with."""
        self.stripped = stripped
        """Dangerous variables removed (the shim should say so: a server may need one allowed)."""
        self.dropped = dropped
        """Variables not passed because they are neither base, declared nor allowed."""
        self.injected = injected
        """Variables set from the keyring."""


def plan_environment(
    parent_env: Mapping[str, str],
    declared_names: Collection[str] | None,
    secrets: Mapping[str, str],
    *,
    full_passthrough: bool = False,
    allow: Iterable[str] = (),
    platform: str | None = None,
) -> EnvironmentPlan:
    """Decide a server's environment.

    Args:
        parent_env: The environment the shim was started with (the client's, plus the entry's ``env``).
        declared_names: The names the entry's ``env`` block declares; None when unknown (an entry
            wrapped before mcpguard recorded them): everything is then passed, as with
            ``full_passthrough``, dangerous families still stripped.
        secrets: ``{VAR: value}`` from the keyring; always set, overriding the parent's value.
        full_passthrough: Pass everything (the per-server setting), dangerous families still stripped.
        allow: Names, or ``PREFIX*`` patterns, to pass in any mode and never strip.
        platform: ``sys.platform`` by default; ``win32`` compares names without case.
    """
    if platform is None:
        import sys

        platform = sys.platform
    windows = platform.startswith("win")
    allow_exact, allow_prefixes = _matcher(allow, windows)
    declared = {(n.upper() if windows else n) for n in (declared_names or ())}
    passthrough = full_passthrough or declared_names is None
    base = BASE_WINDOWS if windows else BASE_POSIX
    base_prefixes = () if windows else BASE_PREFIXES_POSIX

    env: dict[str, str] = {}
    stripped: list[str] = []
    dropped: list[str] = []
    for name, value in parent_env.items():
        key = name.upper() if windows else name
        allowed = key in allow_exact or (bool(allow_prefixes) and key.startswith(allow_prefixes))
        if not allowed and (is_dangerous(name) or value.startswith("()")):
            stripped.append(name)
            continue
        if passthrough or allowed or key in declared or key in base or key.startswith(base_prefixes):
            env[name] = value
        else:
            dropped.append(name)
    injected = []
    for name, value in secrets.items():
        if windows:  # one variable, whatever the case the parent spelled it in
            for existing in [k for k in env if k.upper() == name.upper() and k != name]:
                del env[existing]
        env[name] = value
        injected.append(name)
    return EnvironmentPlan(env, sorted(stripped), sorted(dropped), sorted(injected))


def server_environment(
    parent_env: Mapping[str, str],
    declared_names: Collection[str] | None,
    secrets: Mapping[str, str],
    *,
    full_passthrough: bool = False,
    allow: Iterable[str] = (),
    platform: str | None = None,
) -> dict[str, str]:
    """The environment to start a server with; see :func:`plan_environment` for the arguments."""
    return plan_environment(
        parent_env, declared_names, secrets, full_passthrough=full_passthrough, allow=allow, platform=platform
    ).env
