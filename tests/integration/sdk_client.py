"""The official SDK's client through mcpguard, for the tests that drive a shim or a bridge as a real client does.

Kept apart from :mod:`tests.integration.helpers`, which every integration test and the benchmarks
import: loading the SDK costs about a second, paid only by the tests that use it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import ClassVar, TextIO, TypeVar

import anyio
import mcp_types as types
from mcp.client.session import ClientRequestContext, ClientSession, IncomingMessage
from mcp.client.stdio import StdioServerParameters, stdio_client


@dataclass
class SdkClient:
    """An SDK ``ClientSession`` through mcpguard, with the server notifications it received.

    Subclasses add what else they keep, and set :attr:`list_changed_timeout`.
    """

    session: ClientSession
    init: types.InitializeResult
    notes: list[IncomingMessage] = field(default_factory=list)
    _arrived: anyio.Event = field(default_factory=anyio.Event)

    list_changed_timeout: ClassVar[float] = 3.0
    """How long :meth:`wait_tool_list_changed` waits unless told."""

    async def handle(self, message: IncomingMessage) -> None:
        self.notes.append(message)
        self._arrived.set()
        self._arrived = anyio.Event()

    def tool_list_changes(self) -> int:
        return sum(isinstance(n, types.ToolListChangedNotification) for n in self.notes)

    async def wait_tool_list_changed(self, seen_before: int, timeout: float | None = None) -> None:
        """Wait until more than ``seen_before`` tools/list_changed notifications have arrived."""
        with anyio.fail_after(self.list_changed_timeout if timeout is None else timeout):
            while self.tool_list_changes() <= seen_before:
                await self._arrived.wait()

    async def tools(self) -> dict[str, types.Tool]:
        return {tool.name: tool for tool in (await self.session.list_tools()).tools}


ClientT = TypeVar("ClientT", bound=SdkClient)


@asynccontextmanager
async def sdk_client(
    client_type: type[ClientT],
    params: StdioServerParameters,
    errlog: TextIO | None = None,
    *,
    on_roots: Callable[[ClientT, ClientRequestContext], Awaitable[types.ListRootsResult]] | None = None,
    on_log: Callable[[ClientT, types.LoggingMessageNotificationParams], Awaitable[None]] | None = None,
) -> AsyncIterator[ClientT]:
    """A ``ClientSession`` over ``stdio_client(params)``, initialized, as a ``client_type``.

    Every message the server sends goes to the client's :meth:`SdkClient.handle`. ``on_roots`` and
    ``on_log``, methods of ``client_type`` (``on_roots=Client.on_roots``), become the session's
    roots/list and logging callbacks, called on the client. ``errlog`` is where the launched
    process's stderr goes (the SDK's default when None).
    """
    holder: list[ClientT] = []

    async def on_message(message: IncomingMessage) -> None:
        if holder:
            await holder[0].handle(message)

    async def list_roots(context: ClientRequestContext) -> types.ListRootsResult:
        assert on_roots is not None
        return await on_roots(holder[0], context)

    async def logging(params: types.LoggingMessageNotificationParams) -> None:
        assert on_log is not None
        await on_log(holder[0], params)

    transport = stdio_client(params) if errlog is None else stdio_client(params, errlog=errlog)
    async with transport as (read, write):
        async with ClientSession(
            read,
            write,
            message_handler=on_message,
            list_roots_callback=list_roots if on_roots is not None else None,
            logging_callback=logging if on_log is not None else None,
        ) as session:
            init = await session.initialize()
            client = client_type(session, init)
            holder.append(client)
            yield client
