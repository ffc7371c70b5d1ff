"""Why a remote server cannot be used, in sentences a user can act on.

::

    McpGuardError
     └── RemoteError             the remote server cannot be reached or used
          ├── InsecureURL        a URL the bridge refuses (scheme, plain http off loopback, credentials)
          ├── BadHeader          a ``--header`` that is malformed or names a header the bridge owns
          ├── ConnectFailed      no HTTP exchange happened (DNS, refused, TLS, time-out)
          ├── RedirectRefused    a redirect to another origin, or one that would turn a POST into a GET
          ├── HTTPStatusError    the server answered with a status the transport cannot use
          │    ├── AuthRequired  401 or 403 that no auth hook could answer
          │    │    └── SignInPending  the user is to sign in through the tray first
          │    └── SessionExpired  404 for a request that carried a session id
          └── ProtocolError      the answer is not Streamable HTTP (content type, SSE, no answer)
"""

from __future__ import annotations

from mcpguard.errors import McpGuardError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class RemoteError(McpGuardError):
    """The remote server cannot be reached or used; ``str(err)`` is a complete sentence."""


class InsecureURL(RemoteError):
    """A URL the bridge will not talk to."""


class BadHeader(RemoteError):
    """A ``--header`` option that cannot be used."""


class ConnectFailed(RemoteError):
    """Nothing came back from the server: it could not be reached at all."""


class RedirectRefused(RemoteError):
    """A redirect the bridge does not follow (credentials never leave the server's origin)."""


class HTTPStatusError(RemoteError):
    """The server answered with an HTTP status the transport cannot use."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status
        self.answer: dict[str, Any] | None = None
        """The JSON-RPC ``error`` object the server sent with the status, if any."""


class AuthRequired(HTTPStatusError):
    """The server wants credentials (401) or better ones (403), and no auth hook provided them."""


class SignInPending(AuthRequired):
    """The tray offers the sign-in this request needs: the client is told so at once, in these words.

    Not a failure of the server or the transport, so it is neither logged as a warning nor
    prefixed with "no answer from the server".
    """


class SessionExpired(HTTPStatusError):
    """The server no longer knows the session (404 for a request that carried ``Mcp-Session-Id``)."""

    def __init__(self, message: str, status: int = 404, session_id: str | None = None) -> None:
        super().__init__(message, status)
        self.session_id = session_id
        """The session the server forgot, so that only one thread starts a new one."""


class ProtocolError(RemoteError):
    """The server's answer does not follow the transport (wrong content type, broken stream)."""
