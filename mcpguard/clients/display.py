"""A client entry's command line as it is shown: whole, with only its literal credentials hidden.

The MCP specification asks that a user sees the exact command of a local server before it runs,
so nothing is cut or reordered. But a config that passes a token on the command line
(``mcp-remote URL --header "Authorization: Bearer eyJ..."``, ``--api-key sk-...``) would put the
token on screen, in terminal scrollback, in screen shares and in pasted bug reports; a security
tool that flags the token (:mod:`mcpguard.clients.token_audience`) must not print it as well.

Only the secret part is replaced by :data:`HIDDEN`; the option, the header name and its
``Bearer`` scheme stay, so the user still sees where a token goes. What counts as a token is
decided by the rules the rest of mcpguard already uses: :func:`token_audience.token_in` for
header lines, credential options and variables, ``Bearer`` values and JWTs, and the
:class:`~mcpguard.secrets.redact.Redactor`'s credential shapes (``ghp_``, ``sk-``, JWTs, URL
passwords) anywhere in an argument. References (``@keyring:NAME``, ``${VAR}``) and placeholders
are not secrets and stay as written. This changes what is shown only: configs and the commands
that run are never touched.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mcpguard.clients.entries import KEYRING_REF
from mcpguard.clients.table import EntryShape
from mcpguard.clients.token_audience import HEADER_OPTIONS, HEADER_PLACES, INLINE_BEARER, header_line, token_in
from mcpguard.secrets import detect
from mcpguard.secrets.redact import Redactor

HIDDEN = "[hidden: token]"
"""What is shown in place of a literal credential."""

_shapes: list[Redactor] = []


def _shape_redactor() -> Redactor:
    """The shapes-only redactor, built on first use and then shared (its patterns are compiled once)."""
    if not _shapes:
        _shapes.append(Redactor(marker=HIDDEN))
    return _shapes[0]


def _arg_token(arg: str, previous: str | None) -> str | None:
    """The token an argument passes, read in its context: the option before it, its header line, its form."""
    if previous in HEADER_OPTIONS:
        line = header_line(arg)
        return token_in(*line) if line is not None else None
    if arg.startswith("-"):
        if "=" not in arg:
            return None
        name, value = arg.split("=", 1)
        if name in HEADER_OPTIONS:
            line = header_line(value)
            return token_in(*line) if line is not None else None
        return token_in(name, value)
    line = header_line(arg)
    if line is not None:
        found = token_in(*line)
        if found is not None:
            return found
    if previous is not None and previous.startswith("-") and "=" not in previous:
        found = token_in(previous, arg)
        if found is not None:
            return found
    return token_in(None, arg)


def _hide(text: str, secret: str) -> str:
    """``text`` with its last occurrence of ``secret`` (the value, after any name or scheme) hidden."""
    at = text.rfind(secret)
    return text if at < 0 else text[:at] + HIDDEN + text[at + len(secret) :]


def shown_argv(argv: Sequence[str]) -> tuple[str, ...]:
    """``argv`` as it may be shown: each argument whole, except its literal credentials, as :data:`HIDDEN`.

    ``--header "Authorization: Bearer eyJ..."`` becomes ``--header "Authorization: Bearer [hidden: token]"``;
    ``--api-key=sk-...``, ``API_TOKEN=...``, ``X-Api-Key: ...`` keep their names; ordinary arguments,
    references and placeholders are returned unchanged.
    """
    shapes = _shape_redactor()
    out: list[str] = []
    for i, arg in enumerate(argv):
        token = _arg_token(arg, argv[i - 1] if i else None)
        out.append(shapes.text(_hide(arg, token) if token is not None else arg))
    return tuple(out)


def shown_command(argv: Sequence[str]) -> str:
    """The command line to show: untruncated, quoted for a POSIX shell, its literal credentials hidden."""
    return shlex.join(shown_argv(argv))


def shown_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Any text from a config (an address, a diff) with ``secrets`` and credential shapes hidden.

    ``secrets`` are values known to be secret (those :func:`entry_secrets` finds), hidden wherever
    they appear, also JSON-escaped; values shorter than :data:`~mcpguard.secrets.detect.MIN_LENGTH`
    are left, as the log's redactor leaves them, lest a short value blank out ordinary words.
    """
    known = {f"{i}": value for i, value in enumerate(sorted(set(secrets)))}
    redactor = Redactor(known, marker=HIDDEN) if known else _shape_redactor()
    return redactor.text(text)


def _value_secret(name: str, value: str) -> str | None:
    """The part of a named value (a variable, a header) that is a secret not recognisable by its shape."""
    token = token_in(name, value)
    if token is not None or value.strip().startswith(KEYRING_REF):
        return token
    found = detect.classify(name, value)
    return value.strip() if found is not None and found[0] == "name" else None


def entry_secrets(entry: Any, shape: EntryShape) -> set[str]:
    """The literal secrets of one config entry that text must hide but cannot recognise by shape.

    A diff of a config file shows the entry's raw text: its variables, headers and arguments. A
    shaped credential (``ghp_...``) is found in any text, but a value is only a secret because of
    its name (``API_KEY``, ``X-Api-Key``) or its place (after ``--header Authorization:``), which
    the text of a diff no longer says reliably: those values are collected here, from the entry.
    """
    if not isinstance(entry, Mapping):
        return set()
    found: set[str] = set()
    named: list[tuple[str, Any]] = []
    for key in detect.ENV_KEYS:
        block = entry.get(key)
        if isinstance(block, Mapping):
            named += [(str(k), v) for k, v in block.items()]
    for path in HEADER_PLACES:
        node: Any = entry
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        if isinstance(node, Mapping):
            named += [(str(k), v) for k, v in node.items()]
    named += [(key, entry.get(key)) for key in INLINE_BEARER]
    for name, value in named:
        secret = _value_secret(name, value) if isinstance(value, str) else None
        if secret:
            found.add(secret)
    args = entry.get(shape.args)
    command = entry.get(shape.command)
    words = [a for a in args if isinstance(a, str)] if isinstance(args, list) else []
    words = [command, *words] if isinstance(command, str) else words
    for i, arg in enumerate(words):
        token = _arg_token(arg, words[i - 1] if i else None)
        if token:
            found.add(token)
    return found
