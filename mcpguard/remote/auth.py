"""The seam where authorization plugs into the transport: headers out, a say on 401 and 403.

This part of the bridge signs in nowhere: a static credential can be passed with ``--header``.
The OAuth 2.1 flow of the MCP authorization spec (a later part) implements :class:`Auth`: it adds
``Authorization`` to every request to the MCP endpoint (the transport never sends it elsewhere:
no cross-origin redirect is followed and the legacy POST endpoint must share the origin), and when
the server answers 401 or 403 it may fetch or refresh a token and ask the transport to try again.
"""

from __future__ import annotations

from typing import Protocol

TYPE_CHECKING = False
if TYPE_CHECKING:
    import httpx

MAX_AUTH_RETRIES = 2
"""How many times one message is sent again after the auth hook answered a challenge: no 401 loops."""


class Auth(Protocol):
    """What the transport asks of an authorization method."""

    def headers(self) -> dict[str, str]:
        """Headers for the next request to the MCP endpoint (same origin only)."""
        ...

    def challenged(self, response: httpx.Response) -> bool:
        """The server answered 401 or 403; True to send the request again with fresh :meth:`headers`.

        Called with the response (its ``WWW-Authenticate`` header and status), from any thread.
        """
        ...


class NoAuth:
    """No credentials beyond the user's ``--header`` options; a challenge ends in a clear error."""

    def headers(self) -> dict[str, str]:
        return {}

    def challenged(self, response: httpx.Response) -> bool:
        return False
