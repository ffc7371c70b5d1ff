"""OAuth 2.1 for the remote bridge, as the MCP authorization specification (2025-11-25) asks.

Split by what can go wrong, so each part is tested on its own:

- ``discovery``: where the server's authorization server is (RFC 9728, RFC 8414, OpenID discovery),
  with strict issuer checks and https-only URLs;
- ``tokens``: the token set and the client registration in the keyring, and the JWT checks;
- ``listener``: the one-shot loopback listener the browser is redirected to;
- ``flow``: :class:`~.flow.OAuthAuth`, the :class:`~mcpguard.remote.auth.Auth` the transport uses
  (authorization code + PKCE S256, registration, refresh, step-up), and ``logout``.

httpx and pyjwt are imported only when a server actually asks for authorization.
"""
