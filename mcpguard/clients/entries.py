"""Pure rules about one server entry: is it local or remote, is it wrapped, what does wrapping write.

A wrapped entry launches ``mcpguard run --name SERVER --client CLIENT -- ORIGINAL...`` by absolute
path: clients start servers with a minimal ``PATH`` (Claude Desktop on macOS famously so), and a
relative ``mcpguard`` would not be found. Everything after ``--`` is the original command line, so
an entry can always be unwrapped from its own text, even when mcpguard's records are gone.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mcpguard.clients.table import EntryShape

Transport = Literal["stdio", "remote", "other"]


def shim_launcher(executable: str | None = None) -> list[str]:
    """The absolute command that starts mcpguard: ``[.../mcpguard]`` or ``[python, -m, mcpguard]``.

    The console script next to the interpreter is preferred (a short, readable entry); without it
    (a zipapp, a frozen build, ``python -m`` installs) the interpreter itself runs the package. The
    interpreter path is made absolute but symlinks are kept: a virtualenv's ``python`` is a symlink
    whose target would lose the environment.
    """
    exe = Path(executable or sys.executable).absolute()
    script = exe.parent / ("mcpguard.exe" if os.name == "nt" else "mcpguard")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [str(exe), "-m", "mcpguard"]


def wrapped_argv(
    launcher: Sequence[str],
    client: str,
    server: str,
    command: str,
    args: Sequence[str],
    env_keys: Sequence[str] | None = None,
) -> tuple[str, list[str]]:
    """The ``(command, args)`` an entry gets when wrapped: the shim, then the original after ``--``.

    ``env_keys``, the names the entry's ``env`` block declares, become ``--env-keys A,B`` (before the
    ``--``, so unwrapping removes them with the rest of the prefix): the shim cannot tell the
    client's own environment from the entry's, and passes only the declared names beyond its base.
    None leaves the option out (the shim then passes everything but the dangerous variables).
    """
    options = ["--name", server, "--client", client]
    if env_keys is not None:
        options += ["--env-keys", ",".join(sorted(set(env_keys)))]
    return launcher[0], [*launcher[1:], "run", *options, "--", command, *args]


@dataclass(frozen=True)
class Wrapped:
    """What a wrapped entry says about the server it guards."""

    server: str | None
    client: str | None
    command: str
    """The original command (the first word after ``--``)."""
    args: tuple[str, ...]
    """The original arguments."""
    prefix_len: int
    """How many leading items of the entry's args belong to mcpguard (through the original command)."""
    remote: bool = False
    """A remote entry wrapped as ``mcpguard remote URL``: ``command`` is the URL, unwrap needs the record."""


def _basename(command: str) -> str:
    name = re.split(r"[\\/]", command)[-1].lower()
    return name[:-4] if name.endswith(".exe") else name


def parse_wrapped(command: str, args: Sequence[str]) -> Wrapped | None:
    """The original server of an entry mcpguard wrapped, or None when the entry is not wrapped.

    Recognised: a command named ``mcpguard`` (any directory), or a Python interpreter with
    ``-m mcpguard``, followed by ``run`` ... ``--`` and at least the original command.
    """
    rest = list(args)
    base = _basename(command)
    if base != "mcpguard":
        if not (base.startswith("python") or base == "py") or rest[:2] != ["-m", "mcpguard"]:
            return None
        rest = rest[2:]
    if len(rest) >= 2 and rest[0] == "remote":
        found = _options(rest[2:])
        return Wrapped(found.get("--name"), found.get("--client"), rest[1], (), len(args), remote=True)
    if not rest or rest[0] != "run" or "--" not in rest:
        return None
    sep = rest.index("--")
    original = rest[sep + 1 :]
    if not original:
        return None
    found = _options(rest[1:sep])
    prefix_len = (len(args) - len(rest)) + sep + 2
    return Wrapped(found.get("--name"), found.get("--client"), original[0], tuple(original[1:]), prefix_len)


def _options(options: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for i, opt in enumerate(options):
        for name in ("--name", "--client"):
            if opt == name and i + 1 < len(options):
                found[name] = options[i + 1]
            elif opt.startswith(name + "="):
                found[name] = opt.split("=", 1)[1]
    return found


def remote_bridge_url(command: str, args: Sequence[str]) -> str | None:
    """The URL when a "local" entry only bridges to a remote server (``npx mcp-remote URL``).

    Such an entry has nothing local worth pinning beyond the bridge, and the issue asks to list
    it as remote and leave it alone.
    """
    words = [_basename(command), *args]
    if not any(w == "mcp-remote" or w.startswith("mcp-remote@") for w in words):
        return None
    for w in words:
        if w.startswith(("http://", "https://")):
            return w
    return "(mcp-remote)"


@dataclass(frozen=True)
class Classified:
    """How mcpguard sees one entry."""

    transport: Transport
    detail: str
    """For remote entries the address; for ``other`` why there is nothing to wrap."""
    command: str | None = None
    args: tuple[str, ...] = ()
    has_args: bool = False


def classify(entry: Any, shape: EntryShape) -> Classified:
    """Decide whether an entry starts a local process (``stdio``), talks to a ``remote`` server, or neither."""
    if not isinstance(entry, Mapping):
        return Classified("other", "the entry is not an object")
    for key in shape.remote_keys:
        if isinstance(entry.get(key), str):
            return Classified("remote", str(entry[key]))
    kind = entry.get("type")
    if isinstance(kind, str) and kind in shape.remote_types:
        return Classified("remote", f"type {kind}")
    command = entry.get(shape.command)
    if isinstance(command, str) and command:
        args = entry.get(shape.args, [])
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            return Classified("other", f"its {shape.args!r} is not a list of strings")
        url = remote_bridge_url(command, args)
        if url is not None:
            return Classified("remote", f"{url} (through mcp-remote)", command, tuple(args), shape.args in entry)
        return Classified("stdio", "", command, tuple(args), shape.args in entry)
    if isinstance(command, Mapping):
        return Classified("other", f"its {shape.command!r} is an object (an older format mcpguard does not edit)")
    if isinstance(kind, str):
        return Classified("other", f"a {kind} entry, not a command")
    return Classified("other", f"it has no {shape.command!r} (provided by an extension or built in)")


def is_disabled(entry: Any) -> bool:
    """True when the client is told not to start it (``disabled: true`` or ``enabled: false``)."""
    return isinstance(entry, Mapping) and (entry.get("disabled") is True or entry.get("enabled") is False)


def env_names(entry: Any) -> tuple[str, ...]:
    """Names (never values: they are often secrets) of the variables an entry sets."""
    if not isinstance(entry, Mapping):
        return ()
    names: list[str] = []
    for key in ("env", "envs"):
        block = entry.get(key)
        if isinstance(block, Mapping):
            names += [str(k) for k in block]
    return tuple(names)


# -- remote entries: ``url`` / ``serverUrl`` / ``httpUrl`` or ``npx mcp-remote URL`` ---------------------

KEYRING_REF = "@keyring:"
"""A ``--header NAME=@keyring:SECRET`` value: the bridge reads the value from the keyring at start."""

_MCP_REMOTE_FLAGS = {"--allow-http", "--debug", "--silent"}
"""mcp-remote options without a value that ``mcpguard remote`` has no need for (it checks URLs itself)."""
_MCP_REMOTE_VALUED = {"--transport"}


@dataclass(frozen=True)
class RemoteSource:
    """What a remote entry connects to: the URL, its static headers, and which key held the URL."""

    url: str
    headers: tuple[tuple[str, str], ...]
    url_key: str | None
    """``url``, ``serverUrl`` or ``httpUrl``; None for an ``npx mcp-remote URL`` command."""
    drop: tuple[str, ...] = ()
    """The entry's keys that held the headers (``headers``, ``http_headers``, ``requestOptions``):
    the wrapped entry passes them as options, so they go."""


def remote_source(entry: Any, shape: EntryShape) -> RemoteSource | str:
    """The URL and headers of a remote entry, or a sentence saying why it cannot be wrapped."""
    if not isinstance(entry, Mapping):
        return "the entry is not an object"
    for key in shape.remote_refused:
        if key in entry:
            return f"its {key!r} (a header from the environment or an inline token) has no mcpguard remote equivalent"
    kind = entry.get("type")
    if isinstance(kind, str) and kind.lower() in ("websocket", "ws"):
        return "a websocket server: mcpguard remote speaks Streamable HTTP and SSE"
    for key in shape.remote_keys:
        address = entry.get(key)
        if isinstance(address, str):
            if shape.command in entry or shape.args in entry:
                return (
                    f"it has both {key!r} and {shape.command!r} or {shape.args!r}: which one the client uses is unclear"
                )
            found = _static_headers(entry, shape)
            if isinstance(found, str):
                return found
            return RemoteSource(address, found[0], key, found[1])
    command = entry.get(shape.command)
    args = entry.get(shape.args, [])
    if not isinstance(command, str) or not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        return "it names no URL mcpguard can read"
    words = [command, *args]
    at = next((i for i, w in enumerate(words) if _basename(w) == "mcp-remote" or w.startswith("mcp-remote@")), None)
    if at is None:
        return "it names no URL mcpguard can read"
    url: str | None = None
    headers: list[tuple[str, str]] = []
    rest = words[at + 1 :]
    i = 0
    while i < len(rest):
        word = rest[i]
        if word == "--header" and i + 1 < len(rest):
            raw = rest[i + 1]
            cut = raw.find(":")
            if cut <= 0:
                return f"its mcp-remote header {raw.split('=', 1)[0]!r} has no 'NAME:VALUE' form"
            headers.append((raw[:cut].strip(), raw[cut + 1 :].strip()))
            i += 2
            continue
        if word in _MCP_REMOTE_VALUED and i + 1 < len(rest):
            i += 2
            continue
        if word in _MCP_REMOTE_FLAGS or (url is not None and word.isdigit()):
            i += 1
            continue
        if url is None and word.startswith(("http://", "https://")):
            url = word
            i += 1
            continue
        return f"its mcp-remote option {word!r} has no mcpguard remote equivalent"
    if url is None:
        return "its mcp-remote command names no URL"
    return RemoteSource(url, tuple(headers), None)


def _static_headers(
    entry: Mapping[str, Any], shape: EntryShape
) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]] | str:
    """The headers a URL entry sends and the keys that hold them, or why they cannot be passed on.

    A nested place (Continue's ``requestOptions.headers``) is given up whole, so it may hold nothing
    but the headers: its other options (a proxy, TLS settings) have no ``mcpguard remote`` equivalent.
    """
    headers: list[tuple[str, str]] = []
    drop: list[str] = []
    for path in shape.header_keys:
        node: Any = entry
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        if node is None:
            if len(path) == 1 and path[0] in entry:
                drop.append(path[0])  # an empty ``headers:`` goes too
            continue
        name = ".".join(path)
        if not isinstance(node, Mapping) or not all(isinstance(v, str) for v in node.values()):
            return f"its {name!r} is not an object of strings"
        holder = entry.get(path[0])
        if len(path) > 1 and isinstance(holder, Mapping) and set(holder) != {path[1]}:
            others = ", ".join(sorted(str(k) for k in holder if k != path[1]))
            return f"its {path[0]!r} also sets {others}, which mcpguard remote has no option for"
        headers += [(str(k), v) for k, v in node.items()]
        drop.append(path[0])
    return tuple(headers), tuple(drop)


def header_secret_name(server: str, header: str) -> str:
    """The keyring name a secret header of a wrapped remote entry is kept under: ``remote/SERVER/HEADER_X``."""
    return f"remote/{server}/HEADER_" + re.sub(r"[^A-Za-z0-9_]", "_", header)


def remote_wrapped_argv(
    launcher: Sequence[str], client: str, server: str, url: str, headers: Sequence[str]
) -> tuple[str, list[str]]:
    """The ``(command, args)`` of a wrapped remote entry: ``mcpguard remote URL --name S --client C``.

    ``headers`` are ``NAME=VALUE`` (or ``NAME=@keyring:SECRET``) options, each passed as ``--header``.
    """
    args = [*launcher[1:], "remote", url, "--name", server, "--client", client]
    for header in headers:
        args += ["--header", header]
    return launcher[0], args


# -- rebuilding a remote entry from its wrapped command (no record of the original) --------------------


@dataclass(frozen=True)
class RemoteForm:
    """How a client's own config spells a remote server: what unwrap writes when the original is not recorded.

    The keys and types are those :class:`~mcpguard.clients.table.EntryShape` recognises as remote for the
    client (a test holds every row to that), chosen as the client documents a remote server. ``url_key``
    None means the client's config has no remote form at all: its users bridge with ``npx -y mcp-remote``.
    """

    url_key: str | None
    type: str | None = None
    """The ``type`` a remote entry has in this client; None when its entries have none."""
    headers: tuple[str, ...] = ("headers",)
    """The key path of the headers object."""
    sse_url_key: str | None = None
    """The key for an SSE endpoint when the client spells it apart (Gemini CLI's ``url`` beside ``httpUrl``)."""
    sse_type: str | None = None
    """The ``type`` for an SSE endpoint, where the client has one."""

    def spelled(self, url: str) -> tuple[str | None, str | None]:
        """The URL key and ``type`` for ``url``: an address whose path ends in ``/sse`` is an SSE endpoint
        by convention, and a client told to speak Streamable HTTP to it would fail to connect."""
        from urllib.parse import urlsplit

        if urlsplit(url).path.rstrip("/").endswith("/sse"):
            return self.sse_url_key or self.url_key, self.sse_type or self.type
        return self.url_key, self.type


REMOTE_FORMS: dict[str, RemoteForm] = {
    "claude-desktop": RemoteForm(None),  # its config file runs local servers only
    "claude-code": RemoteForm("url", "http", sse_type="sse"),
    "cursor": RemoteForm("url"),
    "vscode": RemoteForm("url", "http", sse_type="sse"),
    "windsurf": RemoteForm("serverUrl"),
    "zed": RemoteForm("url"),
    "cline": RemoteForm("url", "streamableHttp", sse_type="sse"),
    "gemini-cli": RemoteForm("httpUrl", sse_url_key="url"),
    "lm-studio": RemoteForm("url"),
    "continue": RemoteForm("url", "streamable-http", ("requestOptions", "headers"), sse_type="sse"),
    "goose": RemoteForm("uri", "streamable_http", sse_type="sse"),
    "codex": RemoteForm("url", headers=("http_headers",)),
}
"""Client id -> the remote form unwrap rebuilds an entry in when no record of the original is left."""


@dataclass(frozen=True)
class RemoteWrapped:
    """A wrapped remote entry's command read whole: exactly what :func:`remote_wrapped_argv` writes."""

    launcher: tuple[str, ...]
    url: str
    server: str
    client: str
    headers: tuple[tuple[str, str], ...]
    """``(NAME, VALUE)``; VALUE may be ``@keyring:SECRET``."""


def parse_remote_wrapped(command: str, args: Sequence[str]) -> RemoteWrapped | str:
    """The parts of a wrapped remote command, or why it is not in the form mcpguard writes.

    Unwrap rebuilds an entry from these parts only when nothing else is in the command: an option
    mcpguard never writes (``--timeout``, a second URL) means a hand edit whose intent a rebuilt
    entry could silently drop, so such an entry is left for the user.
    """
    rest = list(args)
    launcher = [command]
    base = _basename(command)
    if base != "mcpguard":
        if not (base.startswith("python") or base == "py") or rest[:2] != ["-m", "mcpguard"]:
            return "its command is not mcpguard's"
        launcher += rest[:2]
        rest = rest[2:]
    if len(rest) < 6 or rest[0] != "remote" or rest[2] != "--name" or rest[4] != "--client":
        return "its command is not 'mcpguard remote URL --name NAME --client CLIENT' as mcpguard writes it"
    url, server, client = rest[1], rest[3], rest[5]
    if not url.startswith(("http://", "https://")):
        return f"its URL {url!r} is not an http(s) address"
    headers: list[tuple[str, str]] = []
    options = rest[6:]
    for i in range(0, len(options), 2):
        if options[i] != "--header" or i + 1 >= len(options):
            return f"it has the option {options[i]!r}, which mcpguard does not write"
        name, sep, value = options[i + 1].partition("=")
        if not sep or not name.strip() or name != name.strip() or ":" in name:
            return f"its header {options[i + 1].split('=', 1)[0]!r} is not written 'NAME=VALUE' as mcpguard writes it"
        if any(name.lower() == seen.lower() for seen, _ in headers):
            return f"it passes the header {name!r} twice"
        headers.append((name, value))
    return RemoteWrapped(tuple(launcher), url, server, client, tuple(headers))
