"""The exceptions mcpguard raises on purpose.

Every error a user can see derives from :class:`McpGuardError` and carries a message that says what
happened and what to do about it::

    McpGuardError
     ├── StoreError            the state database cannot be opened, read or written
     │    └── SchemaTooNew     the database was written by a newer mcpguard
     ├── UnknownServer         a command named a server the store has never seen
     ├── UnknownItem           ... or a tool / prompt / template it has never seen
     └── ServerStartError      the guarded MCP server could not be started
"""


class McpGuardError(Exception):
    """Base of every error meant for the user; ``str(err)`` is a complete sentence."""


class StoreError(McpGuardError):
    """The state database cannot be used."""


class SchemaTooNew(StoreError):
    """The database schema is newer than this version of mcpguard understands."""


class UnknownServer(McpGuardError):
    """No server of that name is in the store."""


class UnknownItem(McpGuardError):
    """No tool, prompt or template of that name is pinned for the server."""


class ServerStartError(McpGuardError):
    """The guarded server's command could not be started."""
