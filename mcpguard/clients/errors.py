"""What can go wrong while reading or rewriting a client's config; every message is one sentence.

They extend the project's tree (``mcpguard.errors``)::

    McpGuardError
     └── ClientConfigError      a client config cannot be read or changed safely
          ├── ConfigParseError  the file does not parse (names file, line, column); it is never written
          ├── UnsupportedEntry  an entry has a shape mcpguard does not edit (it is left alone)
          ├── ConfigChanged     the file kept changing under us (a client rewriting it), nothing written
          └── VerifyFailed      the edited text would not read back as intended, nothing written
"""

from __future__ import annotations

from mcpguard.errors import McpGuardError


class ClientConfigError(McpGuardError):
    """A client's MCP config cannot be read or changed safely."""


class ConfigParseError(ClientConfigError):
    """The file does not parse; mcpguard never overwrites a file it cannot read."""

    def __init__(self, path: str, line: int, column: int, problem: str) -> None:
        self.path = path
        self.line = line
        self.column = column
        self.problem = problem
        super().__init__(f"{path} does not parse at line {line}, column {column}: {problem}; fix it and try again")


class UnsupportedEntry(ClientConfigError):
    """An entry mcpguard does not know how to edit without guessing."""


class ConfigChanged(ClientConfigError):
    """The file changed between our read and our write more often than we retry."""


class VerifyFailed(ClientConfigError):
    """The new text would not read back as the change we meant; the file was left as it was."""
