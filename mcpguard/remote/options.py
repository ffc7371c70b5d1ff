"""The options of ``mcpguard remote URL --name NAME [options]``, read one way wherever they are read.

Two readers need them without argparse: the bridge's own start (a client starts a bridge for every
remote server, every time, and building the full parser costs some 15 ms of CPU; see
``mcpguard.cli._parse_remote``), and ``mcpguard remote login NAME``, which takes them from the entry
a client starts. One reader keeps the two from disagreeing about an entry: login must sign in with
exactly what the bridge will be given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

FIELDS = {
    "--name": "name",
    "--client": "client",
    "--header": "header",
    "--timeout": "timeout",
    "--scope": "scope",
    "--client-id": "client_id",
    "--client-metadata-url": "client_metadata_url",
    "--trust-issuer": "trust_issuer",
}
"""Every option of ``mcpguard remote URL`` (each takes a value) and its field name, as argparse names it."""


class Options(NamedTuple):
    """How to reach one remote server: everything ``mcpguard remote URL`` is told except ``--client``.

    The bridge and ``mcpguard remote login`` take the same options, so that login signs in exactly
    as the bridge will later: same URL, same headers, same OAuth choices, the token kept under the
    same name.
    """

    url: str
    name: str
    headers: tuple[str, ...] = ()
    timeout: float | None = None
    scope: str | None = None
    client_id: str | None = None
    client_metadata_url: str | None = None
    trust_issuer: str | None = None


def read(args: Sequence[str]) -> tuple[Options, str | None] | str:
    """The options and ``--client`` of ``URL --name NAME [options]``, or a sentence saying why they cannot be read.

    Strict where argparse could read more: only full option names, ``--opt VALUE`` or
    ``--opt=VALUE``, no value that starts with ``-`` unless given with ``=``, one URL, a non-empty
    ``--name``, a ``--timeout`` that is a number (its sign is the bridge's to check). What this
    refuses, the bridge's start hands to argparse for its messages.
    """
    url: str | None = None
    found: dict[str, str] = {}
    headers: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("-"):
            if url is not None:
                return f"it names two URLs ({url!r} and {arg!r})"
            url = arg
            i += 1
            continue
        key, eq, value = arg.partition("=")
        field = FIELDS.get(key)
        if field is None:
            return f"the option {key!r} is not one of mcpguard remote's"
        if not eq:
            if i + 1 >= len(args) or args[i + 1].startswith("-"):
                return f"the option {key!r} has no value"
            value = args[i + 1]
            i += 1
        if field == "header":
            headers.append(value)
        else:
            found[field] = value
        i += 1
    if url is None:
        return "it names no URL"
    name = found.get("name")
    if not name:
        return "it passes no --name"
    timeout: float | None = None
    if "timeout" in found:
        try:
            timeout = float(found["timeout"])
        except ValueError:
            return f"its --timeout {found['timeout']!r} is not a number of seconds"
    options = Options(
        url,
        name,
        tuple(headers),
        timeout,
        found.get("scope"),
        found.get("client_id"),
        found.get("client_metadata_url"),
        found.get("trust_issuer"),
    )
    return options, found.get("client")
