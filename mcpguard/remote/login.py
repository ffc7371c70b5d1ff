"""``mcpguard remote login NAME``: sign in to a remote server before any AI client starts its bridge.

A client that starts a bridge needing a sign-in gets an error (with a tray) or waits while the user
finds the browser tab (without one); either way the first start goes wrong. Login does the sign-in
from a terminal beforehand, so that the client's first start finds a token in the keyring.

It must sign in exactly as the bridge later will, or the token would be useless (another header,
another client id) or kept under another name. So the options are read from the very entry the
client starts (the wrapped ``mcpguard remote URL --name NAME ...`` in its config), and the sign-in
runs through the bridge's own set-up (:func:`mcpguard.remote.bridge.prepare`): the same
:class:`~mcpguard.remote.oauth.flow.OAuthAuth` and :class:`~mcpguard.remote.transport.HttpTransport`,
made to send an ``initialize`` so that the server's 401 starts discovery and the browser sign-in,
then the session is ended (DELETE). No sign-in board: the user is at the terminal, so the browser
opens from here even when a tray runs.

Login pins nothing. The bridge pins the authorization server from the stored token at its first
start, which is the identity it would have pinned after a sign-in of its own; a server row made by
login would instead make the first start look like a second one (trust on first use would not
apply) and a later change of identity would be compared with something no client ever saw.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mcpguard.clients.entries import parse_wrapped
from mcpguard.remote.options import Options, read

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from mcpguard.clients.discovery import ConfigFile, ServerEntry
    from mcpguard.paths import AppPaths
    from mcpguard.proxy.jsonrpc import Line, Oversized
    from mcpguard.remote.auth import NoAuth
    from mcpguard.remote.bridge import Remote
    from mcpguard.remote.oauth.flow import OAuthAuth

PROTOCOL_VERSION = "2025-11-25"
"""The version login's ``initialize`` asks for; any the server answers with will do, nothing else is sent."""
REQUEST_ID = "mcpguard-login"
NO_ANSWER = "mcpguard got no answer from the server. "
"""How the transport's own error answers begin (they are written for an AI client); not repeated here."""


@dataclass(frozen=True)
class Found:
    """The bridge options of one server, as one client's entry starts it."""

    options: Options
    client: str | None
    """The ``--client`` the entry passes (the bridge's identity in the store), if any."""
    where: str
    """The AI client and config file, for messages."""


class LoginRefused(Exception):
    """No single entry to sign in with (unknown, ambiguous, unreadable); the message says what to do. Exit 2."""


def bridge_options(args: Sequence[str]) -> tuple[Options, str | None] | str:
    """The options and ``--client`` of an entry's ``remote URL --name NAME ...`` arguments, or why they cannot be read.

    Read by the bridge's own reader (:func:`mcpguard.remote.options.read`), so that login signs in
    with what the bridge will be given.
    """
    if len(args) < 2 or args[0] != "remote" or args[1].startswith("-"):
        return "its arguments do not start with 'remote URL'"
    return read(args[1:])


def _bridge_args(entry: ServerEntry) -> list[str] | None:
    """The arguments after the launcher (``mcpguard`` or ``python -m mcpguard``) when the entry starts a bridge."""
    if entry.command is None:
        return None
    wrapped = parse_wrapped(entry.command, entry.args)
    if wrapped is None or not wrapped.remote:
        return None
    args = list(entry.args)
    return args if args[:1] == ["remote"] else args[2:]


def find(name: str, configs: Sequence[ConfigFile], client: str | None = None) -> Found:
    """The bridge options of ``name`` from the client configs that start it through ``mcpguard remote``.

    Entries with the very same options (the one server set up alike in several clients) are one
    answer: the token is kept per server name, whoever starts it. Different options need
    ``client`` to choose, since each would sign in differently.

    Raises:
        LoginRefused: Not found, found with different options, or an entry that cannot be read.
    """
    matches: list[tuple[ServerEntry, tuple[Options, str | None] | str]] = []
    unguarded: list[ServerEntry] = []
    for config in configs:
        for entry in config.servers:
            args = _bridge_args(entry)
            if args is None:
                if entry.name == name and entry.transport == "remote":
                    unguarded.append(entry)
                continue
            parsed = bridge_options(args)
            if isinstance(parsed, str):
                if entry.name == name:
                    matches.append((entry, parsed))
            elif parsed[0].name == name:
                matches.append((entry, parsed))
    if not matches:
        if unguarded:
            where = ", ".join(sorted({e.client for e in unguarded}))
            raise LoginRefused(
                f"{name!r} is a remote server of {where} that mcpguard does not guard yet; run "
                f"`mcpguard wrap --remote --server {name}` first, then `mcpguard remote login {name}`"
            )
        raise LoginRefused(
            f"no AI client's config starts {name!r} through mcpguard remote; wrap its remote entry first "
            "(`mcpguard wrap --remote`; `mcpguard clients` lists the servers), or give its options: "
            f"`mcpguard remote login URL --name {name} [options]`"
        )
    if client is not None:
        others = sorted({e.client for e, _ in matches})
        matches = [(e, p) for e, p in matches if e.client == client]
        if not matches:
            raise LoginRefused(f"{client} does not start {name!r} through mcpguard remote; {_clients(others)} do")
    for entry, parsed in matches:
        if isinstance(parsed, str):
            raise LoginRefused(f"the entry of {name!r} in {_where(entry)} cannot be read: {parsed}")
    distinct = {p[0] for _, p in matches if not isinstance(p, str)}
    if len(distinct) > 1:
        clients = sorted({e.client for e, _ in matches})
        if client is None and len(clients) > 1:
            raise LoginRefused(
                f"{name!r} is started with different options by {_clients(clients)}; "
                f"say which with --client ({' or '.join(clients)})"
            )
        places = "; ".join(_where(e) for e, _ in matches)
        raise LoginRefused(
            f"{name!r} is started with different options in {places}; give them yourself: "
            f"`mcpguard remote login URL --name {name} [options]`"
        )
    entry, parsed = matches[0]
    assert not isinstance(parsed, str)
    return Found(parsed[0], parsed[1], _where(entry))


def _clients(clients: Sequence[str]) -> str:
    return ", ".join(clients[:-1]) + " and " + clients[-1] if len(clients) > 1 else clients[0]


def _where(entry: ServerEntry) -> str:
    return f"{entry.client} ({entry.config})"


def main(name: str, *, client: str | None = None, projects: Sequence[str] = ()) -> int:
    """``mcpguard remote login NAME``: find the server's options in the client configs, sign in; the exit status.

    0: signed in, or already signed in; 1: the sign-in failed (unreachable, refused, timed out, no
    keyring); 2: no single entry to sign in with, or options the bridge would refuse too.
    """
    from mcpguard.clients.discovery import discover

    try:
        found = find(name, discover(projects=[Path(p).absolute() for p in projects]), client)
    except LoginRefused as exc:
        print(f"mcpguard: {exc}", file=sys.stderr)
        return 2
    print(f"mcpguard: {name}: with the options of its entry in {found.where}", file=sys.stderr)
    return sign_in(found.options, found.client)


def sign_in(options: Options, client: str | None = None) -> int:
    """Sign in with these bridge options through the bridge's own set-up; one line on the outcome.

    ``client``, the bridge's ``--client``, only serves to notice that the server now signs in at
    another authorization server than the one pinned for it (said, not pinned: see the module).
    """
    import logging

    from mcpguard import logs
    from mcpguard.paths import AppPaths
    from mcpguard.remote.bridge import prepare

    # the outcome is said in one line; the bridge's warnings (written for a client's log) go to the file only
    logs.setup(AppPaths.from_env(), prefix="remote", stderr_level=logging.CRITICAL)
    remote = prepare(options)
    if isinstance(remote, str):
        print(f"mcpguard: {remote}", file=sys.stderr)
        return 2
    auth = remote.auth(None)
    if isinstance(auth, str):
        print(f"mcpguard: {auth}", file=sys.stderr)
        return 2
    from mcpguard.remote.auth import NoAuth

    oauth = None if isinstance(auth, NoAuth) else auth
    host = remote.endpoint.url.host
    if oauth is not None:
        problem = _keyring_problem(remote.paths, options.name)
        if problem is not None:
            print(f"mcpguard: cannot sign in to {options.name}: {problem}", file=sys.stderr)
            return 1
    before = auth.headers()
    error = _handshake(remote, auth)
    if error is not None:
        failure = oauth.failure if oauth is not None else None
        print(f"mcpguard: {failure or error}", file=sys.stderr)
        return 1
    after = auth.headers()
    if oauth is None:
        print(f"{options.name} at {host} takes the Authorization header of its entry: there is nothing to sign in to.")
        return 0
    if not after:
        print(f"{options.name} at {host} asks for no sign-in: there is nothing to sign in to.")
        return 0
    if after == before:
        print(f"Already signed in to {options.name} at {host}: the token in the keyring works.")
        return 0
    problem = _not_kept(remote.paths, options.name, after)
    if problem is not None:
        print(f"mcpguard: signed in to {options.name}, but {problem}", file=sys.stderr)
        return 1
    print(f"Signed in to {options.name} at {host}; the token is in the keyring.")
    if client is not None:
        _note_new_issuer(remote, oauth, client)
    return 0


def _handshake(remote: Remote, auth: NoAuth | OAuthAuth) -> str | None:
    """``initialize`` and ``notifications/initialized`` through the bridge's transport, then DELETE.

    A 401 on the way runs the sign-in (or a refresh) exactly as in the bridge. Returns None when the
    server answered the handshake, else why not in one sentence.
    """
    from mcpguard import __version__
    from mcpguard.proxy import jsonrpc
    from mcpguard.proxy.jsonrpc import Oversized
    from mcpguard.remote.transport import Outgoing

    answers: list[dict[str, Any]] = []

    def deliver(data: Line | Oversized) -> None:
        if isinstance(data, Oversized):
            return
        try:
            message = jsonrpc.parse(data)
        except (ValueError, RecursionError):
            return
        if jsonrpc.is_response(message) and message.get("id") == REQUEST_ID:
            answers.append(message)

    params = {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "mcpguard-login", "version": __version__},
    }
    initialize = {"jsonrpc": "2.0", "id": REQUEST_ID, "method": "initialize", "params": params}
    transport = remote.transport(auth, deliver)
    try:
        transport.send(Outgoing(jsonrpc.encode(initialize)))
        if not answers:
            return f"the remote server {remote.options.name!r} did not answer the initialize request"
        answer = answers[0]
        if isinstance(answer.get("result"), dict):
            transport.send(Outgoing(jsonrpc.encode(jsonrpc.notification("notifications/initialized"))))
            return None
    finally:
        transport.close()
    error = answer.get("error")
    text = str(error.get("message") or "no result") if isinstance(error, dict) else "no result"
    if text.startswith(NO_ANSWER):  # the transport's words for a client: the cause is what matters here
        text = text[len(NO_ANSWER) :].rstrip(".")
        return text[:1].lower() + text[1:]
    return f"the remote server {remote.options.name!r} refused the initialize request: {text[:300]}"


def _keyring_problem(paths: AppPaths, name: str) -> str | None:
    """Why the token could not be kept, found before the user is sent to the browser; None when it can."""
    from mcpguard.remote.oauth.tokens import TOKENS, key
    from mcpguard.secrets.base import SecretsError
    from mcpguard.secrets.keyring_store import open_store

    try:
        store = open_store(paths)
        store.backend()
        store.get(key(name, TOKENS))  # a locked keyring says so here
    except SecretsError as exc:
        return str(exc)
    return None


def _not_kept(paths: AppPaths, name: str, sent: dict[str, str]) -> str | None:
    """Read the token back from the keyring: a sign-in the next start cannot find is no sign-in at all."""
    from mcpguard.remote.oauth.tokens import load_tokens
    from mcpguard.secrets.base import SecretsError
    from mcpguard.secrets.keyring_store import open_store

    try:
        tokens = load_tokens(open_store(paths), name)
    except SecretsError as exc:
        return f"the keyring could not keep the token: {exc}"
    if tokens is None or sent.get("Authorization") != f"Bearer {tokens.access_token}":
        return "the keyring did not keep the token; the next start will ask for a sign-in again"
    return None


def _note_new_issuer(remote: Remote, oauth: OAuthAuth, client: str) -> None:
    """Say so when the server now signs in at another authorization server than the one pinned for it.

    The bridge pins the new one at its next start and holds calls until it is approved; the user is
    better told now than surprised then. Only read: the store is not created or changed for this.
    """
    from mcpguard.errors import McpGuardError
    from mcpguard.pinning.store import Store
    from mcpguard.remote.bridge import pinned_command, recorded_issuer

    if not remote.paths.database.exists():
        return
    issuer = oauth.stored_issuer()
    base = pinned_command(remote.endpoint.identity, remote.options.trust_issuer)
    try:
        store = Store.open(remote.paths)
    except McpGuardError:
        return
    try:
        for server in store.find_servers(remote.options.name, client):
            recorded = recorded_issuer(store, server.id, base)
            if recorded is not None and issuer is not None and recorded != issuer:
                print(
                    f"Note: {remote.options.name} now signs in at {issuer}, not at {recorded} as pinned; its calls "
                    f"are held at the next start until you approve it (mcpguard pins approve {remote.options.name})."
                )
    finally:
        store.close()
