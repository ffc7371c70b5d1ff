"""The text and ``--json`` forms of ``mcpguard clients``, ``wrap`` and ``unwrap`` (see docs/cli.md).

Commands are shown whole, quoted as a POSIX shell would need them: the MCP specification asks
that a user sees the exact command of a local server before consenting to run it, and a
truncated or unquoted command line hides exactly what an attacker would put in it. The one
exception is a literal credential, shown as ``[hidden: token]`` (:mod:`mcpguard.clients.display`):
output that ends up in scrollback and bug reports must not carry the token it warns about.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TextIO

from mcpguard.clients.discovery import ConfigFile, ServerEntry
from mcpguard.clients.display import shown_argv, shown_command, shown_text
from mcpguard.clients.operations import Plan
from mcpguard.clients.risk import Flag, assess


def entry_flags(s: ServerEntry) -> list[Flag]:
    """The flags the text form shows under an entry: its command's (a local server), then its tokens'.

    Token flags belong to remote entries as much as local ones: a header token is what a remote
    entry risks, so they are shown whatever the transport.
    """
    return [*(assess(s.original or ()) if s.transport == "stdio" else []), *s.token_flags]


def command_line(argv: Sequence[str]) -> str:
    """The command line as every screen shows it: untruncated, quoted for a POSIX shell, and with
    literal credentials hidden, so the one place that shows commands is the one place that masks."""
    return shown_command(argv)


def server_json(s: ServerEntry) -> dict[str, Any]:
    """One server in the documented ``clients --json`` shape."""
    argv = list(s.original) if s.original else None
    return {
        "name": s.name,
        "transport": s.transport,
        "guarded": s.guarded,
        "disabled": s.disabled,
        "command": list(shown_argv(argv)) if argv is not None else None,
        "url": shown_text(s.detail) if s.transport == "remote" else None,
        "detail": shown_text(s.detail),
        "container": list(s.container),
        "project": s.project,
        "env": list(s.env),
        "flags": [{"severity": f.severity, "reason": f.reason} for f in [*assess(argv or []), *s.token_flags]],
    }


def clients_json(configs: Sequence[ConfigFile]) -> list[dict[str, Any]]:
    """Every config file found, with its servers."""
    return [
        {
            "client": c.spec.id,
            "name": c.spec.name,
            "config": str(c.path),
            "format": c.location.format,
            "scope": c.location.scope,
            "project": str(c.project) if c.project else None,
            "error": c.error,
            "servers": [server_json(s) for s in c.servers],
        }
        for c in configs
    ]


def print_clients(configs: Sequence[ConfigFile], out: TextIO) -> None:
    """The text form of ``mcpguard clients``: one block per config file, one line per server."""
    if not configs:
        print(
            "No AI client config found. mcpguard looks where each client keeps it (see docs/clients.md); "
            "add --project DIR for project files such as .mcp.json.",
            file=out,
        )
        return
    for c in configs:
        print(f"{c.spec.name} ({c.spec.id})  {c.path}", file=out)
        if c.error:
            print(f"  ! {c.error}", file=out)
            continue
        if not c.servers:
            print("  (no servers)", file=out)
        width = max((len(s.name) for s in c.servers), default=0)
        for s in c.servers:
            guarded = "guarded" if s.guarded else "not guarded"
            if s.transport == "stdio":
                what = command_line(s.original or ())
            elif s.transport == "remote":
                what = shown_text(s.detail)
            else:
                what = f"({shown_text(s.detail)})"
            where = f"  [project {s.project}]" if s.scope == "local" else ""
            disabled = "  [disabled]" if s.disabled else ""
            print(f"  {s.name:<{width}}  {s.transport:<6}  {guarded:<11}  {what}{where}{disabled}", file=out)
            for f in entry_flags(s):
                print(f"  {'':<{width}}  ! {f.severity}: {f.reason}", file=out)


def print_plan(plan: Plan, out: TextIO, *, diff: bool = False, verbose_skips: bool = True) -> None:
    """The plan a user consents to: every command in full, its flags, and (``diff``) each file's diff."""
    verb = "Wrap" if plan.kind == "wrap" else "Unwrap"
    actions = plan.actions
    if actions:
        files = len(plan.files)
        s_servers = "server" if len(actions) == 1 else "servers"
        s_files = "file" if files == 1 else "files"
        if plan.kind == "wrap":
            print(
                f"{verb} {len(actions)} {s_servers} in {files} {s_files}; each will start through "
                f"{command_line([*plan.launcher, 'run'])} with the command shown:",
                file=out,
            )
        else:
            print(f"{verb} {len(actions)} {s_servers} in {files} {s_files}; each will start directly again:", file=out)
        for fp in plan.files:
            print(f"\n{fp.config.spec.name}  {fp.config.path}", file=out)
            for a in fp.actions:
                s = a.server
                where = f" (project {s.project})" if s.scope == "local" else ""
                disabled = " (disabled)" if s.disabled else ""
                print(f"  {s.name}{where}{disabled}", file=out)
                if plan.kind == "wrap" and s.transport == "remote":
                    bridge = command_line([*plan.launcher, "remote"])
                    print(f"    remote:  {shown_text(s.detail)}, through {bridge}", file=out)
                    if a.remote is not None and (a.remote.keyring_headers or a.remote.plain_headers):
                        fates = [f"{h} (value to the keyring)" for h in a.remote.keyring_headers]
                        fates += [f"{h} (on the command line)" for h in a.remote.plain_headers]
                        print(f"    headers: {', '.join(fates)}", file=out)
                else:
                    print(f"    command: {command_line(a.argv)}", file=out)
                if s.env:
                    print(f"    env:     {', '.join(s.env)}", file=out)
                for f in [*a.flags, *(t for t in a.server.token_flags if t not in a.flags)]:
                    print(f"    ! {f.severity}: {f.reason}", file=out)
            if diff:
                print("", file=out)
                print(fp.diff(), file=out, end="")
    if plan.skipped and verbose_skips:
        print("\nLeft alone:", file=out)
        for sk in plan.skipped:
            print(f"  {sk.server.name} ({sk.server.client}, {sk.server.config}): {shown_text(sk.reason)}", file=out)
    if plan.errors:
        print("\nNot readable, left alone:", file=out)
        for e in plan.errors:
            print(f"  ! {e}", file=out)
