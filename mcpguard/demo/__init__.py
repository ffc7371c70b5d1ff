"""A tiny bundled MCP server that can "rug pull" one of its tools, for `mcpguard demo` and the tests."""
