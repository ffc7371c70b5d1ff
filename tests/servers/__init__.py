"""MCP servers the integration tests start as real processes (never imported by mcpguard)."""
