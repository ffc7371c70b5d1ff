"""SDK servers over HTTP on 127.0.0.1, for the remote bridge's tests: Streamable HTTP or the old HTTP+SSE.

Run as ``python tests/servers/sdk_http.py [options]``; once it accepts connections it prints
``READY <port>`` on stdout. The socket is bound before uvicorn starts, so ``--port 0`` picks a free
port without a race, and a restart can take the same port again (``--port N``).

``--server``         ``basic`` (tests/servers/sdk_basic.py, honours ``SDK_TOOLS``) or ``mutating``
                     (tests/servers/sdk_mutating.py); both get two more tools, ``ask_roots`` (the
                     server asks the client ``roots/list``) and ``chatty`` (a log notification on the
                     answer stream before the result)
``--json-response``  answer each POST with one JSON body instead of an SSE stream
``--legacy-sse``     serve the 2024-11-05 HTTP+SSE transport at /sse (POST /messages/) instead
``--stateless``      no sessions
"""

from __future__ import annotations

import argparse
import socket
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import uvicorn  # noqa: E402
from mcp.server import MCPServer  # noqa: E402
from mcp.server.mcpserver import Context  # noqa: E402

from tests.servers import sdk_basic, sdk_mutating  # noqa: E402


def add_remote_tools(server: MCPServer) -> None:
    async def ask_roots(ctx: Context) -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # roots are deprecated in 2026-07-28; 2025-11-25 still has them
            roots = await ctx.session.list_roots()
        return ",".join(str(root.uri) for root in roots.roots) or "(no roots)"

    async def chatty(text: str, ctx: Context) -> str:
        await ctx.info(f"about to echo {text}")
        return text

    server.add_tool(ask_roots, name="ask_roots", description="Ask the client for its roots and list them.")
    server.add_tool(chatty, name="chatty", description="Log a message, then echo the text.")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--server", choices=("basic", "mutating"), default="basic")
    parser.add_argument("--json-response", action="store_true")
    parser.add_argument("--legacy-sse", action="store_true")
    parser.add_argument("--stateless", action="store_true")
    args = parser.parse_args()

    server = sdk_basic.build() if args.server == "basic" else sdk_mutating.build()
    add_remote_tools(server)
    if args.legacy_sse:
        app = server.sse_app()
    else:
        app = server.streamable_http_app(json_response=args.json_response, stateless_http=args.stateless)

    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted connections only when the listening socket
    # names its protocol; with proto 0 every answer waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(128)
    print(f"READY {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
