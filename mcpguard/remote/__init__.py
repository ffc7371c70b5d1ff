"""Remote MCP servers through the guard: ``mcpguard remote URL`` is a stdio server to the client.

The bridge runs the very pipeline of the local shim (:mod:`mcpguard.proxy`); only the transport to
the server differs. Nothing here is imported by ``mcpguard run``, and httpx is imported lazily:

- ``endpoint``: which URLs are allowed (https, or http on loopback) and the identity that is pinned;
- ``sse``: a line-based Server-Sent Events decoder that keeps event ids for resumption;
- ``auth``: the hook through which a later part adds OAuth (headers, 401/403);
- ``transport``: Streamable HTTP (and the 2024-11-05 HTTP+SSE fallback) over httpx;
- ``bridge``: stdin/stdout <-> pipeline <-> transport, the watcher and the tool-call log.
"""
