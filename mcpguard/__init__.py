"""mcpguard: a guard between desktop AI clients and their local MCP servers."""

__version__ = "0.1.0"
