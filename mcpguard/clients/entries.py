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
    if not rest or rest[0] != "run" or "--" not in rest:
        return None
    sep = rest.index("--")
    original = rest[sep + 1 :]
    if not original:
        return None
    options = rest[1:sep]
    found: dict[str, str] = {}
    for i, opt in enumerate(options):
        for name in ("--name", "--client"):
            if opt == name and i + 1 < len(options):
                found[name] = options[i + 1]
            elif opt.startswith(name + "="):
                found[name] = opt.split("=", 1)[1]
    prefix_len = (len(args) - len(rest)) + sep + 2
    return Wrapped(found.get("--name"), found.get("--client"), original[0], tuple(original[1:]), prefix_len)


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
