"""The authorization seam: what the transport asks of an auth method, and the default that asks nothing."""

from __future__ import annotations

import httpx

from mcpguard.remote.auth import Auth, NoAuth


def test_no_auth_adds_nothing_and_declines_every_challenge() -> None:
    auth: Auth = NoAuth()
    assert auth.headers() == {}
    assert auth.challenged(httpx.Response(401, headers={"WWW-Authenticate": 'Bearer resource_metadata="x"'})) is False
    assert auth.challenged(httpx.Response(403)) is False
