"""The ``mcpguard`` command: the shim (``run``) and everything a user does without the tray.

Each subcommand imports what it needs when it runs, so ``mcpguard run`` (started for every server,
every time a client starts) pays for nothing it does not use.
"""

from __future__ import annotations

import sys

from mcpguard import __version__
from mcpguard.errors import McpGuardError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence
    from typing import Any

    from mcpguard.paths import AppPaths
    from mcpguard.pinning.store import ItemView, ServerRecord, Store
    from mcpguard.remote.options import Options

DEFAULT_CLIENT = "unknown"
ITEM_KINDS = ("tool", "prompt", "resource_template")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; returns the process exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["tray"]:
        return _tray(argv[1:])
    if argv[:1] == ["run"]:
        fast = _parse_run(argv[1:])
        if fast is not None:
            try:
                return _run(*fast)
            except McpGuardError as exc:
                print(f"mcpguard: {exc}", file=sys.stderr)
                return 1
    if argv[:1] == ["remote"]:
        remote = _parse_remote(argv[1:])
        if remote is not None:
            return _handle(_remote, remote)
    args = _parser().parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        _parser().print_help(sys.stderr)
        return 2
    return _handle(handler, args)


def _handle(handler: Callable[[Any], int], args: Any) -> int:
    """Run a subcommand's handler, turning the errors every subcommand may end with into exit statuses."""
    try:
        result: int = handler(args)
        return result
    except McpGuardError as exc:
        print(f"mcpguard: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def _parser() -> argparse.ArgumentParser:
    import argparse  # here, not at the top: `mcpguard run` must not pay for the full parser

    parser = argparse.ArgumentParser(
        prog="mcpguard",
        description="Guard the MCP servers your AI clients start: pin their tools, approve changes, log calls.",
    )
    parser.add_argument("--version", action="version", version=f"mcpguard {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    run = sub.add_parser("run", help="start an MCP server through the guard (what client configs launch)")
    run.add_argument("--name", required=True, help="the server's name in the client's config")
    run.add_argument("--client", default=DEFAULT_CLIENT, help="the AI client that launches it")
    run.add_argument(
        "--env-keys",
        default=None,
        metavar="A,B",
        help="the names the entry's env block declares (written by wrap; absent: pass all but dangerous ones)",
    )
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARG...]: the real server")
    run.set_defaults(handler=_cmd_run)

    pins = sub.add_parser("pins", help="list, inspect, approve and deny pinned definitions")
    pins_sub = pins.add_subparsers(title="pins commands", metavar="ACTION")

    p = pins_sub.add_parser("list", help="every server and item with its status and findings")
    p.add_argument("--json", action="store_true", help="machine-readable output (see docs/cli.md)")
    p.set_defaults(handler=_cmd_pins_list)

    p = pins_sub.add_parser("show", help="a server's identity and items, or one item in full with its history")
    _server_args(p)
    p.add_argument("item", nargs="?", help="a tool (or prompt / resource template) name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_cmd_pins_show)

    p = pins_sub.add_parser("diff", help="a readable diff of the approved and the live definition")
    _server_args(p)
    p.add_argument("item", help="a tool (or prompt / resource template) name")
    p.set_defaults(handler=_cmd_pins_diff)

    p = pins_sub.add_parser(
        "approve",
        help="approve the live definitions",
        description="Without ITEMs, approve the server's identity (command line, serverInfo, instructions). "
        "With ITEMs, approve those. With --all, approve everything the server shows now.",
    )
    _server_args(p)
    p.add_argument("items", nargs="*", metavar="ITEM")
    p.add_argument("--all", action="store_true", help="the identity and every item")
    p.set_defaults(handler=_cmd_pins_decide, decision="approve")

    p = pins_sub.add_parser("deny", help="refuse the live definitions of items")
    _server_args(p)
    p.add_argument("items", nargs="+", metavar="ITEM")
    p.set_defaults(handler=_cmd_pins_decide, decision="deny", all=False)

    p = pins_sub.add_parser("revoke", help="withdraw approvals: the items go back to pending")
    _server_args(p)
    p.add_argument("items", nargs="+", metavar="ITEM")
    p.set_defaults(handler=_cmd_pins_decide, decision="revoke", all=False)

    p = pins_sub.add_parser("forget", help="drop a server with all its pins and history")
    _server_args(p)
    p.set_defaults(handler=_cmd_pins_forget)

    logp = sub.add_parser("log", help="the tool-call log")
    logp.add_argument("--follow", "-f", action="store_true", help="keep printing new calls as they happen")
    logp.add_argument("--json", action="store_true", help="one JSON object per line (see docs/cli.md)")
    logp.add_argument("--server", help="only calls to this server")
    logp.add_argument("--limit", "-n", type=int, default=50, help="how many recent calls (default 50; 0: all)")
    logp.set_defaults(handler=_cmd_log)
    log_sub = logp.add_subparsers(title="log commands", metavar="ACTION")
    p = log_sub.add_parser("verify", help="check the log's hash chain for edited, moved or deleted rows")
    p.set_defaults(handler=_cmd_log_verify)

    setp = sub.add_parser("settings", help="show or change settings")
    from mcpguard.settings import SETTINGS

    setp.add_argument(
        "key",
        nargs="?",
        help=f"a setting ({', '.join(sorted(SETTINGS))}) or a server's env_passthrough:SERVER, env_allow:SERVER",
    )
    setp.add_argument("value", nargs="?", help="its new value")
    setp.set_defaults(handler=_cmd_settings)

    tray = sub.add_parser("tray", help="start the tray application", add_help=False)
    tray.add_argument("tray_args", nargs=argparse.REMAINDER)
    tray.set_defaults(handler=_cmd_tray)

    clients = sub.add_parser("clients", help="the AI clients' MCP configs found here, and which servers are guarded")
    clients.add_argument("--json", action="store_true", help="machine-readable output (see docs/cli.md)")
    _project_arg(clients)
    clients.set_defaults(handler=_cmd_clients)

    for kind, text in (
        ("wrap", "rewrite client configs so servers start through mcpguard"),
        ("unwrap", "put wrapped client config entries back as they were"),
    ):
        p = sub.add_parser(
            kind,
            help=text,
            description=f"{text[0].upper()}{text[1:]}. The plan, with each server's full command, is shown "
            "first; without --yes you are asked to confirm. Every write is backed up, atomic and verified.",
        )
        p.add_argument("--client", help="only this client (an id from `mcpguard clients`, e.g. claude-desktop)")
        p.add_argument("--server", help="only servers of this name")
        p.add_argument("--all", action="store_true", help="every server of every client found")
        p.add_argument("--dry-run", action="store_true", help="show the plan and a diff of each file; write nothing")
        p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation (scripts)")
        if kind == "wrap":
            p.add_argument(
                "--remote",
                action="store_true",
                help="also turn remote entries (url, serverUrl, httpUrl, npx mcp-remote) into `mcpguard remote` "
                "entries; secret headers go to the keyring",
            )
        _project_arg(p)
        p.set_defaults(handler=_cmd_wrap, kind=kind, remote=False)

    demo = sub.add_parser("demo", help="watch mcpguard guard a bundled demo server, in the terminal")
    demo.add_argument("--keep", action="store_true", help="keep the demo's profile (printed) instead of a temp one")
    demo.set_defaults(handler=_cmd_demo)

    remote = sub.add_parser(
        "remote",
        help="reach a remote (Streamable HTTP) MCP server through the guard, as a stdio server to the client",
        description="Bridge the client's stdio to a remote MCP server over HTTPS (plain http only on this machine), "
        "with the same pins, approvals and tool-call log as `mcpguard run`. See docs/remote.md.",
    )
    remote.add_argument("url", metavar="URL", help="the server's MCP endpoint, e.g. https://example.com/mcp")
    remote.add_argument("logout_name", nargs="?", metavar="NAME", help=argparse.SUPPRESS)
    remote.add_argument("--name", help="the server's name in the client's config (required)")
    remote.add_argument(
        "--client",
        default=DEFAULT_CLIENT,
        help="the AI client that launches it; for login: the client whose entry to sign in with",
    )
    remote.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an HTTP header sent with every request to the server (repeatable; 'NAME: VALUE' works too)",
    )
    remote.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="seconds the server may stay silent while an answer is due (default 120; connecting: at most 10)",
    )
    remote.add_argument("--scope", help="OAuth scopes to ask for (space-separated) instead of what the server suggests")
    remote.add_argument(
        "--client-id",
        help="a client id pre-registered with the authorization server; its secret comes from the keyring "
        "(remote/NAME/CLIENT_SECRET) or MCPGUARD_CLIENT_SECRET, never from the command line",
    )
    remote.add_argument(
        "--client-metadata-url", metavar="URL", help="an https URL of a Client ID Metadata Document to sign in with"
    )
    remote.add_argument(
        "--trust-issuer",
        metavar="URL",
        help="accept authorization server metadata naming this issuer although it was found under another one "
        "(pinned: changing it holds the server's tools)",
    )
    remote.add_argument(
        "--project",
        action="append",
        default=[],
        metavar="DIR",
        help="for login: also look in this project's config files for the server's entry; repeatable",
    )
    remote.epilog = (
        "mcpguard remote login NAME [--client CLIENT] [--project DIR]: sign in to NAME now, in the browser, with the "
        "options of the client's entry that starts it (mcpguard remote URL --name NAME ...), so that the client's "
        "first start finds the token in the keyring. mcpguard remote login URL --name NAME [options]: the same "
        "with the options given here. mcpguard remote logout NAME: revoke and delete the stored sign-in of NAME."
    )
    remote.set_defaults(handler=_cmd_remote)

    secrets_p = sub.add_parser("secrets", help="keep servers' API keys in the OS keyring instead of config files")
    secrets_sub = secrets_p.add_subparsers(title="secrets commands", metavar="ACTION")
    p = secrets_sub.add_parser(
        "set",
        help="store a server's secret in the keyring",
        description="Store a secret that the guarded server SERVER receives as the environment variable VAR. "
        "The value is read without echo from the terminal, or from stdin when it is not a terminal.",
    )
    p.add_argument("server", metavar="SERVER", help="the server's name in the client config")
    p.add_argument("variable", metavar="VAR", help="the environment variable the server reads it from")
    p.set_defaults(handler=_cmd_secrets_set)
    p = secrets_sub.add_parser("list", help="the names of the stored secrets (never their values)")
    p.add_argument("--json", action="store_true", help="machine-readable output (see docs/cli.md)")
    p.set_defaults(handler=_cmd_secrets_list)
    p = secrets_sub.add_parser("delete", help="remove a server's secret from the keyring")
    p.add_argument("server", metavar="SERVER")
    p.add_argument("variable", metavar="VAR")
    p.set_defaults(handler=_cmd_secrets_delete)
    p = secrets_sub.add_parser(
        "migrate",
        help="move plaintext secrets from client configs into the keyring",
        description="Find plaintext secrets in the env blocks of guarded servers (by variable name and by value "
        "shape), store them in the keyring and remove them from the config files. The plan comes first; without "
        "--yes you are asked to confirm. Every write is backed up, atomic and verified, and the backups mcpguard "
        "keeps are scrubbed of the moved values.",
    )
    p.add_argument("--client", help="only this client (an id from `mcpguard clients`, e.g. claude-desktop)")
    p.add_argument("--server", help="only servers of this name")
    p.add_argument("--dry-run", action="store_true", help="show the plan and a redacted diff; write nothing")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation (scripts)")
    _project_arg(p)
    p.set_defaults(handler=_cmd_secrets_migrate)
    p = secrets_sub.add_parser(
        "protect",
        help="create the integrity key: sign approvals and chain the tool-call log with it",
        description="Create mcpguard's HMAC key in the keyring (once). The approvals given so far are signed as "
        "they are now; from then on an approval edited outside mcpguard is treated as not approved, and "
        "`mcpguard log verify` detects forged or cut-off log rows.",
    )
    p.set_defaults(handler=_cmd_secrets_protect)
    return parser


def _server_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("server", metavar="NAME", help="the server's name")
    p.add_argument("--client", help="the client, when several clients have a server of that name")


# -- run -------------------------------------------------------------------------------------------


def _parse_run(args: list[str]) -> tuple[str, str, list[str], list[str] | None] | None:
    """``--name N [--client C] [--env-keys A,B] -- CMD...`` without argparse; None sends odd input to argparse.

    ``--env-keys`` absent gives None (an entry wrapped by an older mcpguard: pass everything but the
    dangerous variables); present and empty gives ``[]`` (the entry declares no variable).
    """
    name: str | None = None
    client = DEFAULT_CLIENT
    env_keys: list[str] | None = None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            command = args[i + 1 :]
            return (name, client, command, env_keys) if name and command else None
        key, eq, value = arg.partition("=")
        if key not in ("--name", "--client", "--env-keys"):
            return None
        if not eq:
            if i + 1 >= len(args):
                return None
            value = args[i + 1]
            i += 1
        if key == "--name":
            name = value
        elif key == "--client":
            client = value
        else:
            from mcpguard.secrets.inject import parse_env_keys

            env_keys = parse_env_keys(value)
        i += 1
    return None


def _cmd_run(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        print(
            "mcpguard: run needs the server's command after --, e.g. mcpguard run --name x -- npx server",
            file=sys.stderr,
        )
        return 2
    env_keys = None
    if args.env_keys is not None:
        from mcpguard.secrets.inject import parse_env_keys

        env_keys = parse_env_keys(args.env_keys)
    return _run(args.name, args.client, command, env_keys)


def _run(name: str, client: str, command: list[str], env_keys: list[str] | None = None) -> int:
    """The shim: decide the server's environment, start it, set the guard up while it boots, then relay.

    The environment (and the server's secrets, from the keyring only when it has some) is decided
    before the server starts: fail closed, a server whose secret cannot be read is not started.
    """
    import os

    from mcpguard.paths import AppPaths
    from mcpguard.proxy.spawn import spawn, stop
    from mcpguard.secrets.inject import launch_environment
    from mcpguard.settings import server_environment_settings

    paths = AppPaths.from_env()
    passthrough, allow = server_environment_settings(paths.database_file, name)
    try:
        launch = launch_environment(paths.root, name, os.environ, env_keys, full_passthrough=passthrough, allow=allow)
    except McpGuardError as exc:  # a SecretsError; not imported by name: secrets.base imports typing
        print(f"mcpguard: cannot start the server {name!r}: {exc}", file=sys.stderr)
        return 1
    stderr_read: int | None = None
    stderr_write: int | None = None
    if launch.secrets:  # only then: the common path keeps the kernel's zero-copy stderr
        stderr_read, stderr_write = os.pipe()
    proc = spawn(command, name, launch.env, stderr_fd=stderr_write)
    if stderr_write is not None:
        os.close(stderr_write)
    if isinstance(proc, int):
        if stderr_read is not None:
            os.close(stderr_read)
        return proc
    if stderr_read is not None:
        from mcpguard.proxy.stderr_filter import start_stderr_filter

        start_stderr_filter(stderr_read, 2, launch.redactor)
    try:
        from mcpguard import logs
        from mcpguard.audit import AuditLog
        from mcpguard.pinning.store import Store
        from mcpguard.proxy.pipeline import Pipeline
        from mcpguard.proxy.session import Session
        from mcpguard.proxy.shim import Shim
        from mcpguard.proxy.steps import default_steps
        from mcpguard.secrets.integrity import BackgroundKey

        logs.defer_setup(paths, prefix="shim")  # logging is imported only if something is logged
        store = Store.open(paths)
        integrity = BackgroundKey(paths.root)
        store.set_integrity_key(integrity.wait)  # approvals are checked once the key is there
        session = Session(store, client=client, name=name, command=command)
        shim = Shim(
            Pipeline(session, default_steps()), AuditLog(store), proc, redactor=launch.redactor, integrity=integrity
        )
    except BaseException as exc:
        stop(proc)  # no guard, no server: fail closed
        if isinstance(exc, McpGuardError) and launch.secrets:
            exc.args = (launch.redactor().text(str(exc)),)  # main prints it: never a secret on stderr
        raise
    return shim.run()


# -- pins ------------------------------------------------------------------------------------------


def _open() -> tuple[AppPaths, Store]:
    """The profile and its store, with the integrity key attached when the profile has one.

    The keyring is asked only when the secrets index lists the key (``mcpguard secrets protect``):
    a profile without it never imports ``keyring`` here.
    """
    from mcpguard.paths import AppPaths
    from mcpguard.pinning.store import Store
    from mcpguard.secrets.integrity import existing_key, key_exists

    paths = AppPaths.from_env()
    store = Store.open(paths)
    if key_exists(paths.root):
        store.set_integrity_key(existing_key(paths.root, _secret_store()))
    return paths, store


def _protect_quietly(paths: AppPaths, store: Any) -> None:
    """Create the integrity key on the first ``secrets set`` / ``secrets migrate`` (the keyring is in use anyway).

    A keyring that stored the secret but cannot take the key now is no reason to fail the command:
    the key is then made at the tray's next start, or with ``mcpguard secrets protect``.
    """
    from mcpguard.secrets.integrity import key_exists, protect

    if key_exists(paths.root):
        return
    try:
        protect(paths, store)
    except McpGuardError as exc:
        from mcpguard import logs

        logs.get(__name__).info("the integrity key was not created (%s)", exc)


def _resolve(store: Store, name: str, client: str | None) -> ServerRecord:
    from mcpguard.errors import UnknownServer

    found = store.find_servers(name, client)
    if not found:
        known = ", ".join(sorted({s.name for s in store.servers()})) or "none yet"
        raise UnknownServer(f"no server named {name!r} is known (known servers: {known})")
    if len(found) > 1:
        clients = ", ".join(s.client for s in found)
        raise UnknownServer(f"several clients have a server named {name!r} ({clients}); add --client")
    return found[0]


def _find_item(store: Store, server: ServerRecord, name: str) -> ItemView:
    from mcpguard.errors import UnknownItem

    for kind in ITEM_KINDS:
        try:
            return store.item(server.id, kind, name)
        except UnknownItem:
            continue
    names = ", ".join(v.name for v in store.items(server.id) if v.kind in ITEM_KINDS) or "none"
    raise UnknownItem(f"the server {server.name!r} has no tool, prompt or template named {name!r} (it has: {names})")


def _findings_summary(findings: list[dict[str, str]]) -> str:
    if not findings:
        return ""
    kinds: dict[str, str] = {}
    for f in findings:
        kinds.setdefault(f.get("kind", "?"), f.get("severity", "?"))
    return f"{len(findings)} finding{'s' if len(findings) != 1 else ''}: " + ", ".join(
        f"{k} ({s})" for k, s in kinds.items()
    )


def _cmd_pins_list(args: argparse.Namespace) -> int:
    import json

    from mcpguard.pinning.fingerprint import short
    from mcpguard.pinning.store import pins_to_json

    _, store = _open()
    servers = store.servers()
    if args.json:
        doc = [{"server": s.name, "client": s.client, "items": pins_to_json(store.items(s.id))} for s in servers]
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return 0
    if not servers:
        print("No servers seen yet. Servers appear here the first time a client starts them through mcpguard.")
        return 0
    for s in servers:
        items = store.items(s.id)
        identity = {v.kind: v for v in items if v.kind not in ITEM_KINDS}
        command = identity.get("command")
        state = command.status.value if command else "unknown"
        print(f"{s.name}  (client {s.client})  identity: {state}")
        for v in items:
            if v.kind not in ITEM_KINDS and v.status.value == "approved":
                continue
            fp = short(v.live.fingerprint) if v.live else "-"
            label = v.kind.replace("_", " ")
            name = v.name or "-"
            findings = _findings_summary(v.live.findings if v.live else [])
            if v.forged:
                findings = ("approval edited outside mcpguard: not approved  " + findings).rstrip()
            print(f"  {label:<17} {name:<28} {v.status.value:<9} {fp}  {findings}".rstrip())
    return 0


def _cmd_pins_show(args: argparse.Namespace) -> int:
    import json

    from mcpguard.pinning.store import pins_to_json

    _, store = _open()
    server = _resolve(store, args.server, args.client)
    if args.item is None:
        items = store.items(server.id)
        if args.json:
            print(json.dumps({"server": server.name, "client": server.client, "items": pins_to_json(items)}, indent=2))
            return 0
        print(f"server  {server.name}  (client {server.client})")
        for v in items:
            if v.kind in ITEM_KINDS:
                continue
            print(f"{v.kind.replace('_', ' '):<13} {v.status.value}")
            if v.live is not None:
                print(_indent(_pretty(_shown_definition(v.kind, v.live.definition))))
        for v in items:
            if v.kind in ITEM_KINDS:
                print(f"{v.kind.replace('_', ' '):<17} {v.name:<28} {v.status.value}")
        return 0
    view = _find_item(store, server, args.item)
    history = store.history(view.id)
    if args.json:
        doc = pins_to_json([view])[0]
        doc["live_definition"] = view.live.definition if view.live else None
        doc["approved_definition"] = view.approved.definition if view.approved else None
        doc["history"] = [
            {"fingerprint": d.fingerprint, "decision": d.decision, "actor": d.actor, "time": d.at, "note": d.note}
            for d in history
        ]
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return 0
    from mcpguard.scanner import reveal

    print(f"{view.kind.replace('_', ' ')} {view.name!r} of {server.name} (client {server.client}): {view.status.value}")
    if view.live is not None:
        print(f"live fingerprint     {view.live.fingerprint}")
    if view.approved is not None:
        print(f"approved fingerprint {view.approved.fingerprint}")
    if view.live is not None:
        print("live definition (hidden characters shown as ⟦…⟧):")
        print(_indent(reveal(_pretty(view.live.definition))))
        for f in view.live.findings:
            print(f"  ! {f.get('severity')}: {f.get('kind')} in {f.get('where')}: {f.get('explanation')}")
    if history:
        print("history:")
        for d in history:
            print(f"  {_time(d.at)}  {d.decision:<7} by {d.actor:<20} {d.fingerprint[:22]}…")
    return 0


def _shown_definition(kind: str, definition: Any) -> Any:
    """A definition as ``pins show NAME`` prints it: a command line with its literal credentials hidden.

    ``--json`` leaves stored data as it is; the text is for eyes (and screen shares).
    """
    argv = definition.get("argv") if kind == "command" and isinstance(definition, dict) else None
    if not isinstance(argv, list):
        return definition
    from mcpguard.clients.display import shown_argv

    return {**definition, "argv": shown_argv([str(a) for a in argv])}


def _cmd_pins_diff(args: argparse.Namespace) -> int:
    import difflib

    from mcpguard.scanner import reveal

    _, store = _open()
    server = _resolve(store, args.server, args.client)
    view = _find_item(store, server, args.item)
    if view.live is None:
        print(f"{view.name!r} has no live definition")
        return 1
    if view.approved is None:
        print(f"{view.name!r} has never been approved; its live definition is all new:")
        print(_indent(reveal(_pretty(view.live.definition))))
        return 0
    if view.approved.fingerprint == view.live.fingerprint:
        print(f"{view.name!r}: the live definition is the approved one.")
        return 0
    old = reveal(_pretty(view.approved.definition)).splitlines(keepends=True)
    new = reveal(_pretty(view.live.definition)).splitlines(keepends=True)
    sys.stdout.writelines(
        difflib.unified_diff(
            old, new, fromfile=f"approved {view.approved.fingerprint}", tofile=f"live {view.live.fingerprint}"
        )
    )
    for f in view.live.findings:
        print(f"! {f.get('severity')}: {f.get('kind')} in {f.get('where')}: {f.get('explanation')}")
    return 0


def _cmd_pins_decide(args: argparse.Namespace) -> int:
    import getpass

    from mcpguard.pinning.store import IDENTITY_KINDS

    _, store = _open()
    server = _resolve(store, args.server, args.client)
    actor = f"cli:{getpass.getuser()}"
    targets: list[ItemView] = []
    items = store.items(server.id)
    if args.decision == "approve" and (args.all or not args.items):
        targets += [v for v in items if v.kind in IDENTITY_KINDS and v.live is not None]
    if args.all:
        targets += [v for v in items if v.kind in ITEM_KINDS and v.live is not None]
    for name in args.items:
        targets.append(_find_item(store, server, name))
    changed = 0
    for v in targets:
        if args.decision == "approve" and v.status.value == "approved":
            continue
        if args.decision == "revoke" and v.approved is None:
            print(f"{v.kind} {v.name!r} is not approved; nothing to revoke")
            continue
        after = store.decide(server.id, v.kind, v.name, args.decision, actor=actor)
        changed += 1
        label = f"{v.kind.replace('_', ' ')} {v.name!r}" if v.name else v.kind.replace("_", " ")
        print(f"{label}: {after.status.value}")
    if not changed:
        print("Nothing to change.")
    return 0


def _cmd_pins_forget(args: argparse.Namespace) -> int:
    _, store = _open()
    server = _resolve(store, args.server, args.client)
    store.forget(server.id)
    print(f"Forgot {server.name} (client {server.client}); its next start is a first start.")
    return 0


# -- log -------------------------------------------------------------------------------------------


def _cmd_log(args: argparse.Namespace) -> int:
    import json
    import time

    from mcpguard.audit import AuditLog

    _, store = _open()
    audit = AuditLog(store)
    rows = audit.rows(server=args.server, limit=args.limit or None, newest_first=True)
    rows.reverse()
    last = rows[-1].id if rows else 0
    if not args.follow and not rows and not args.json:
        print("No tool calls logged yet.")
    while True:
        for row in rows:
            if args.json:
                print(json.dumps(row.to_json(), ensure_ascii=False), flush=True)
            else:
                print(_log_line(row), flush=True)
        if not args.follow:
            return 0
        time.sleep(0.25)
        rows = audit.rows(after_id=last, server=args.server)
        if rows:
            last = rows[-1].id


def _log_line(row: Any) -> str:
    duration = f"{row.duration_ms:8.1f} ms" if row.duration_ms is not None else "       - ms"
    findings = _findings_summary(row.findings)
    args = row.arguments if len(row.arguments) <= 80 else row.arguments[:77] + "..."
    detail = f"  ({row.detail})" if row.detail else ""
    return (
        f"{_time(row.at)}  {row.client}/{row.server}  {row.tool}  {row.outcome:<14} {duration}  "
        f"{row.result_size:>8} B  {args}{detail}  {findings}"
    ).rstrip()


def _cmd_log_verify(args: argparse.Namespace) -> int:
    from mcpguard.audit import AuditLog

    _, store = _open()
    key = store.integrity_key()
    report = AuditLog(store).verify(key)
    if key is None:
        reason = (
            "the integrity key cannot be read from the keyring"
            if report.keyed_rows
            else "no integrity key (`mcpguard secrets protect` creates one)"
        )
        print(
            f"Note: {reason}; hashes and links checked only, which anyone who can write state.db can recompute"
            + (f" ({report.unchecked_rows} keyed rows not checked)" if report.unchecked_rows else "")
            + "."
        )
    if report.ok:
        keyed = f", {report.keyed_rows} keyed rows and the signed head verified" if key and report.keyed_rows else ""
        print(f"The tool-call log is intact: {report.rows} rows, hash chain verified{keyed}.")
        return 0
    for problem in report.problems:
        print(problem)
    print(f"The tool-call log was tampered with: {len(report.problems)} problems in {report.rows} rows.")
    return 1


# -- settings --------------------------------------------------------------------------------------


def _cmd_settings(args: argparse.Namespace) -> int:
    from mcpguard.settings import PER_SERVER, SETTINGS, validate
    from mcpguard.settings import default as setting_default

    _, store = _open()
    if args.key is None:
        for key, (default, help_text) in SETTINGS.items():
            print(f"{key} = {store.setting(key, default)}    # {help_text}")
        for key, value in sorted(store.settings().items()):
            if key.partition(":")[0] in PER_SERVER and ":" in key:
                print(f"{key} = {value}")
        return 0
    if args.value is None:
        print(store.setting(args.key, setting_default(args.key)))
        return 0
    store.set_setting(args.key, validate(args.key, args.value))
    if ":" in args.key:  # a per-server setting: tell shims to read them (they skip sqlite3 otherwise)
        from mcpguard.settings import server_settings_marker

        with open(server_settings_marker(store.path), "a", encoding="utf-8"):
            pass
    print(f"{args.key} = {args.value}")
    return 0


# -- tray ----------------------------------------------------------------------------------------


def _cmd_tray(args: argparse.Namespace) -> int:
    return _tray(args.tray_args)


def _tray(argv: list[str]) -> int:
    """The tray parses its own options (``mcpguard tray --help``)."""
    try:
        from mcpguard.gui.app import main as tray_main
    except ImportError as exc:
        raise McpGuardError(
            f"the tray needs PySide6 and the Qt system libraries ({exc}); on Debian or Ubuntu run "
            "`bash .ci/setup`, or `apt-get install libgl1 libegl1 libxkbcommon0 libfontconfig1 libdbus-1-3`"
        ) from exc
    return tray_main(argv)


# -- clients, wrap, unwrap ------------------------------------------------------------------------


def _project_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--project",
        action="append",
        default=[],
        metavar="DIR",
        help="also read this project's config files (.mcp.json, .cursor/mcp.json, .vscode/mcp.json, ...); repeatable",
    )


def _discover(args: argparse.Namespace) -> list[Any]:
    from pathlib import Path

    from mcpguard.clients.discovery import discover

    return discover(projects=[Path(p).absolute() for p in args.project])


def _cmd_clients(args: argparse.Namespace) -> int:
    import json

    from mcpguard.clients.report import clients_json, print_clients

    configs = _discover(args)
    if args.json:
        print(json.dumps(clients_json(configs), indent=2, ensure_ascii=False))
    else:
        print_clients(configs, sys.stdout)
    return 0


def _cmd_wrap(args: argparse.Namespace) -> int:
    from mcpguard.clients.operations import apply, make_plan
    from mcpguard.clients.records import WrapRecords
    from mcpguard.clients.report import print_plan
    from mcpguard.clients.table import CLIENTS
    from mcpguard.paths import AppPaths

    kind = args.kind
    if args.client is not None and args.client not in {c.id for c in CLIENTS}:
        known = ", ".join(c.id for c in CLIENTS)
        raise McpGuardError(f"there is no client called {args.client!r} (known: {known})")
    if not (args.all or args.client or args.server):
        raise McpGuardError(f"say which servers to {kind}: --server NAME, --client ID, or --all")
    paths = AppPaths.from_env()
    records = WrapRecords(paths)
    plan = make_plan(kind, _discover(args), client=args.client, server=args.server, records=records, remote=args.remote)
    print_plan(plan, sys.stdout, diff=args.dry_run, verbose_skips=args.server is not None or args.dry_run)
    if not plan.actions:
        if args.server is not None and not plan.skipped:
            raise McpGuardError(f"no server named {args.server!r} was found in the client configs")
        print(f"Nothing to {kind}.")
        return 1 if plan.errors else 0
    if args.dry_run:
        print("Dry run: nothing was written.")
        return 0
    if not args.yes and not _confirm(f"{kind.capitalize()} these {len(plan.actions)} server(s)?"):
        return 1
    failed = 0
    clients_done: list[str] = []
    for result in apply(plan, paths):
        fp = result.file
        if result.error is not None:
            failed += 1
            print(f"mcpguard: {result.error}", file=sys.stderr)
            continue
        done = "wrapped" if kind == "wrap" else "unwrapped"
        print(f"{fp.config.path}: {len(fp.actions)} {done} (backup: {result.backup})")
        if fp.config.spec.name not in clients_done:
            clients_done.append(fp.config.spec.name)
    if clients_done:
        print(f"Restart {', '.join(clients_done)} so the change takes effect.")
    return 1 if failed or plan.errors else 0


# -- demo ------------------------------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace) -> int:
    from mcpguard.demo.walkthrough import run_walkthrough

    return run_walkthrough(keep=args.keep)


# -- remote ----------------------------------------------------------------------------------------


def _parse_remote(args: list[str]) -> tuple[Options, str] | None:
    """``URL --name N [options]`` without argparse: the options and ``--client``; None sends anything else to argparse.

    A bridge is started by the client for every remote server, every time it starts, and building
    the full parser (argparse, shutil for the help's width, the settings) costs some 15 ms of CPU
    of the bridge's start-up (docs/remote.md, Performance). Only the plain form is read here
    (:func:`mcpguard.remote.options.read`): abbreviated or unknown options, help, ``logout``,
    ``login``, a value that looks like an option, a bad ``--timeout`` or a missing ``--name`` all go
    to argparse, which keeps the messages and the exit statuses of the full parser.
    """
    from mcpguard.remote.options import read

    found = read(args)
    if isinstance(found, str) or found[0].url in ("logout", "login"):
        return None
    options, client = found
    return options, client if client is not None else DEFAULT_CLIENT


def _remote_options(args: argparse.Namespace, url: str | None = None) -> Options:
    """The bridge options argparse read (``url`` instead of ``args.url`` for ``login URL``)."""
    from mcpguard.remote.options import Options

    return Options(
        url if url is not None else args.url,
        args.name,
        tuple(args.header),
        args.timeout,
        args.scope,
        args.client_id,
        args.client_metadata_url,
        args.trust_issuer,
    )


def _remote(found: tuple[Options, str]) -> int:
    """Start the bridge with these options, launched by this AI client."""
    from mcpguard.remote.bridge import main as remote_main

    options, client = found
    return remote_main(options, client=client)


def _cmd_remote(args: argparse.Namespace) -> int:
    if args.url == "login":
        return _remote_login(args)
    if args.url == "logout":
        from mcpguard.remote.bridge import logout

        target = args.logout_name or args.name
        if not target:
            print("mcpguard: usage: mcpguard remote logout NAME", file=sys.stderr)
            return 2
        return logout(target)
    if args.logout_name is not None or not args.name or args.project:
        print("mcpguard: usage: mcpguard remote URL --name NAME [options]", file=sys.stderr)
        return 2
    return _remote((_remote_options(args), args.client))


_BRIDGE_ONLY = ("header", "timeout", "scope", "client_id", "client_metadata_url", "trust_issuer")
"""Options that describe how to reach the server: in ``login NAME`` they come from the client's entry."""


def _remote_login(args: argparse.Namespace) -> int:
    """``mcpguard remote login NAME`` (options from the client's entry) or ``login URL --name NAME [options]``."""
    from mcpguard.remote import login

    target = args.logout_name
    client = None if args.client == DEFAULT_CLIENT else args.client  # no AI client is called that: none chosen
    if target is not None and "://" in target:
        if not args.name or args.project:
            print("mcpguard: usage: mcpguard remote login URL --name NAME [options]", file=sys.stderr)
            return 2
        return login.sign_in(_remote_options(args, url=target), client)
    name = target or args.name
    if not name or (target and args.name) or any(getattr(args, key) not in (None, []) for key in _BRIDGE_ONLY):
        print(
            "mcpguard: usage: mcpguard remote login NAME [--client CLIENT] [--project DIR] (the options come from "
            "the client's entry), or mcpguard remote login URL --name NAME [options]",
            file=sys.stderr,
        )
        return 2
    return login.main(name, client=client, projects=args.project)


# -- secrets ---------------------------------------------------------------------------------------


def _secret_store() -> Any:
    """The OS keyring store of the profile (tests replace ``keyring_store.open_store``)."""
    from mcpguard.paths import AppPaths
    from mcpguard.secrets import keyring_store

    return keyring_store.open_store(AppPaths.from_env())


def _secret_name(server: str, variable: str) -> str:
    from mcpguard.secrets.names import secret_name

    try:
        return secret_name(server, variable)
    except ValueError as exc:
        raise McpGuardError(str(exc)) from exc


def _read_secret(name: str) -> str:
    """The value, without echo from a terminal, else all of stdin minus one trailing line break."""
    if sys.stdin.isatty():
        import getpass

        value = getpass.getpass(f"Value of {name} (input is not shown): ")
    else:
        value = sys.stdin.read()
        if value.endswith("\r\n"):
            value = value[:-2]
        elif value.endswith("\n"):
            value = value[:-1]
    if not value:
        raise McpGuardError(f"no value was given for {name}; nothing was stored")
    return value


def _cmd_secrets_protect(args: argparse.Namespace) -> int:
    from mcpguard.paths import AppPaths
    from mcpguard.secrets.integrity import protect

    protect(AppPaths.from_env(), _secret_store())
    print(
        "Approvals are signed and the tool-call log is chained with mcpguard's integrity key (in the keyring); "
        "`mcpguard log verify` checks it."
    )
    return 0


def _cmd_secrets_set(args: argparse.Namespace) -> int:
    name = _secret_name(args.server, args.variable)
    store = _secret_store()
    where = store.description  # finds the keyring first: no one should type a secret only to be refused
    value = _read_secret(name)
    try:
        store.set(name, value)
    except ValueError as exc:
        raise McpGuardError(f"{exc}; nothing was stored") from exc
    print(f"Stored {name} in the keyring ({where}); {args.server} gets it as {args.variable} from its next start.")
    from mcpguard.paths import AppPaths

    _protect_quietly(AppPaths.from_env(), store)
    return 0


def _cmd_secrets_list(args: argparse.Namespace) -> int:
    import json

    from mcpguard.secrets.names import is_internal, split_name

    names = _secret_store().names()  # the index of names: no keyring needed, no value read
    if args.json:
        doc = []
        for name in names:
            server, variable = split_name(name)
            doc.append({"name": name, "server": server, "variable": variable, "internal": is_internal(name)})
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return 0
    if not names:
        print("No secrets stored. Add one with `mcpguard secrets set SERVER VAR`, or move the plaintext ones in")
        print("your client configs with `mcpguard secrets migrate`.")
        return 0
    for name in names:
        server, variable = split_name(name)
        if is_internal(name):
            print(f"{name}  (mcpguard's own: protects approvals and the tool-call log)")
        else:
            print(f"{server}  {variable}")
    return 0


def _cmd_secrets_delete(args: argparse.Namespace) -> int:
    from mcpguard.secrets.base import SecretNotFound
    from mcpguard.secrets.names import is_internal

    name = _secret_name(args.server, args.variable)
    if is_internal(name):
        raise McpGuardError(f"{name} is mcpguard's own key; deleting it would make every approval unverifiable")
    store = _secret_store()
    if not store.delete(name):
        stored = ", ".join(n for n in store.names() if not is_internal(n)) or "none"
        raise SecretNotFound(f"no secret {name} is stored (stored: {stored})")
    print(f"Deleted {name}; {args.server} no longer gets {args.variable} from the keyring.")
    return 0


def _cmd_secrets_migrate(args: argparse.Namespace) -> int:
    from mcpguard.clients.table import CLIENTS
    from mcpguard.paths import AppPaths
    from mcpguard.secrets import migrate
    from mcpguard.secrets.base import SecretsUnavailable

    if args.client is not None and args.client not in {c.id for c in CLIENTS}:
        known = ", ".join(c.id for c in CLIENTS)
        raise McpGuardError(f"there is no client called {args.client!r} (known: {known})")
    paths = AppPaths.from_env()
    store = _secret_store()
    unavailable: str | None = None
    try:
        print(f"Secrets go to the keyring ({store.description}).")  # found now, before anything is planned
    except SecretsUnavailable as exc:
        if not args.dry_run:
            raise
        store, unavailable = None, str(exc)
    plan = migrate.make_plan(_discover(args), client=args.client, server=args.server, store=store)
    for fp in plan.files:
        print(f"{fp.config.spec.name}: {fp.config.path}")
        for move in fp.moves:
            print(f"  {move.server.name}  {move.variable}: {move.found.reason} -> keyring {move.name}")
    if plan.left:
        print("Left in place:")
        for left in plan.left:
            what = "header" if left.found.where == "headers" else "variable"
            if left.found.where == "args":
                what = "argument"
            print(f"  {left.server.client} {left.server.name}  {what} {left.found.key}: {left.reason}")
    if plan.errors:
        print("Not readable:")
        for error in plan.errors:
            print(f"  {error}")
    if args.dry_run:
        redactor = plan.redactor()
        for fp in plan.files:
            sys.stdout.write(fp.diff(redactor))
        if not plan.moves:
            print("No plaintext secret to move.")
        if unavailable is not None:
            print(f"Note: {unavailable}")
        print("Dry run: nothing was written.")
        return 0
    if not plan.moves:
        scrubbed = migrate.scrub_profile(paths, migrate.known_values(store))
        if scrubbed.changed:
            print(f"Scrubbed stored secrets from {len(scrubbed.changed)} backup file(s) in {paths.home}.")
        print("No plaintext secret to move.")
        return 1 if plan.errors or scrubbed.remaining else 0
    if not args.yes and not _confirm(f"Move these {len(plan.moves)} secret(s) to the keyring?"):
        return 1
    results, scrubbed = migrate.apply(plan, store, paths)
    if any(result.error is None for result in results):
        _protect_quietly(paths, store)
    failed = 0
    clients_done: list[str] = []
    for result in results:
        fp = result.file
        if result.error is not None:
            failed += 1
            print(f"mcpguard: {result.error}", file=sys.stderr)
            continue
        print(f"{fp.config.path}: {len(fp.moves)} moved to the keyring (backup, scrubbed: {result.backup})")
        if fp.config.spec.name not in clients_done:
            clients_done.append(fp.config.spec.name)
    if scrubbed.changed:
        print(f"Scrubbed the moved values from {len(scrubbed.changed)} file(s) mcpguard keeps in {paths.home}.")
    for path in scrubbed.remaining:
        failed += 1
        print(f"mcpguard: {path} still holds a secret value; delete it", file=sys.stderr)
    for path, name in migrate.foreign_copies(plan):
        print(f"Note: {path} (not mcpguard's) still holds the value of {name}; delete it or edit it by hand.")
    if clients_done:
        print(f"Restart {', '.join(clients_done)} so the change takes effect.")
    return 1 if failed or plan.errors else 0


def _confirm(question: str) -> bool:
    """Ask on the terminal (or read the answer from stdin); anything but yes changes nothing."""
    print(f"\n{question} [y/N] ", end="", flush=True)
    answer = sys.stdin.readline().strip().lower()
    if not sys.stdin.isatty():
        print()
    if answer in ("y", "yes"):
        return True
    print("Nothing changed.")
    return False


# -- formatting ------------------------------------------------------------------------------------


def _pretty(value: Any) -> str:
    import json

    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def _time(at: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))
