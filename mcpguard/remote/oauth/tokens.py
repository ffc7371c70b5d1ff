"""Tokens and client registrations in the keyring, and the checks a JWT access token must pass.

Everything is kept under ``remote/<NAME>/``: ``OAUTH_TOKENS`` (access and refresh token, expiry,
granted scope, the issuer and resource they are for) and ``OAUTH_CLIENT`` (the client id and secret
an authorization server issued). Both record the issuer: credentials are bound to the authorization
server that issued them, and are never presented to another (a server that moved gets a fresh
registration and sign-in). Nothing here is written to a file or a log line.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from mcpguard.remote.oauth.discovery import OAuthError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import httpx

    from mcpguard.secrets.base import SecretStore

TOKENS = "OAUTH_TOKENS"
CLIENT = "OAUTH_CLIENT"
CLIENT_SECRET = "CLIENT_SECRET"
"""A pre-registered client's secret, put in the keyring by the user (``mcpguard secrets``)."""
LEEWAY = 30
"""Seconds of clock skew tolerated, and how early an access token is refreshed before it expires."""


def key(name: str, item: str) -> str:
    """The keyring name of one of a remote server's items."""
    return f"remote/{name}/{item}"


@dataclass
class TokenSet:
    issuer: str
    resource: str | None
    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None
    scope: str | None = None
    client_id: str | None = None
    revocation_endpoint: str | None = None
    token_endpoint: str | None = None

    def expired(self, now: float | None = None) -> bool:
        return self.expires_at is not None and (now or time.time()) >= self.expires_at - LEEWAY


@dataclass
class ClientInfo:
    issuer: str
    client_id: str
    client_secret: str | None = None
    auth_method: str = "none"
    redirect_uri: str | None = None


def _load(store: SecretStore, name: str, item: str) -> dict[str, Any] | None:
    if key(name, item) not in store.names():  # the index: no keyring opened for servers without OAuth
        return None
    raw = store.get(key(name, item))
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def load_tokens(store: SecretStore, name: str) -> TokenSet | None:
    data = _load(store, name, TOKENS)
    if data is None or not isinstance(data.get("access_token"), str) or not isinstance(data.get("issuer"), str):
        return None
    fields = TokenSet.__dataclass_fields__
    return TokenSet(**{k: v for k, v in data.items() if k in fields})


def save_tokens(store: SecretStore, name: str, tokens: TokenSet) -> None:
    store.set(key(name, TOKENS), json.dumps(asdict(tokens)))


def load_client(store: SecretStore, name: str) -> ClientInfo | None:
    data = _load(store, name, CLIENT)
    if data is None or not isinstance(data.get("client_id"), str) or not isinstance(data.get("issuer"), str):
        return None
    fields = ClientInfo.__dataclass_fields__
    return ClientInfo(**{k: v for k, v in data.items() if k in fields})


def save_client(store: SecretStore, name: str, client: ClientInfo) -> None:
    store.set(key(name, CLIENT), json.dumps(asdict(client)))


def looks_like_jwt(token: str) -> bool:
    """Three base64url parts whose first is a JSON header with ``alg``: anything else is opaque."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        return False
    import base64

    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except (ValueError, TypeError):
        return False
    return isinstance(header, dict) and "alg" in header


def _norm(url: str) -> str:
    return url.rstrip("/")


def check_access_token(
    token: str, *, audience: str, issuer: str, jwks: dict[str, Any] | None = None, now: float | None = None
) -> None:
    """Refuse a JWT access token meant for another resource or issuer, expired or not yet valid.

    Opaque tokens pass: only the resource server can judge them. With the authorization server's
    JWKS the signature is verified too; without it, the claims are still checked, because a token
    whose ``aud`` names another server must never be sent (it may be replayed there).

    Raises:
        OAuthError: The token fails a check; the message names the claim, never the token.
    """
    if not looks_like_jwt(token):
        return
    import jwt

    try:
        header = jwt.get_unverified_header(token)
        if jwks is not None and header.get("alg") not in (None, "none", "HS256", "HS384", "HS512"):
            keyset = jwt.PyJWKSet.from_dict(jwks)
            kid = header.get("kid")
            keys = [k for k in keyset.keys if kid is None or k.key_id == kid]
            if not keys:
                raise OAuthError("the access token is signed with a key the authorization server does not publish")
            claims: dict[str, Any] = jwt.decode(
                token, keys[0].key, algorithms=[str(header["alg"])], options={"verify_aud": False, "verify_exp": False}
            )
        else:
            claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidSignatureError as exc:
        raise OAuthError(
            "the access token's signature does not verify against the authorization server's keys"
        ) from exc
    except jwt.PyJWTError as exc:
        raise OAuthError(f"the access token is a malformed JWT ({type(exc).__name__})") from exc
    moment = now if now is not None else time.time()
    aud = claims.get("aud")
    auds = [aud] if isinstance(aud, str) else [a for a in aud if isinstance(a, str)] if isinstance(aud, list) else []
    if "aud" in claims and _norm(audience) not in {_norm(a) for a in auds}:
        raise OAuthError(f"the access token is for {auds!r}, not for this server ({audience}); refusing to use it")
    iss = claims.get("iss")
    if isinstance(iss, str) and _norm(iss) != _norm(issuer):
        raise OAuthError(f"the access token was issued by {iss!r}, not by the authorization server {issuer!r}")
    exp = claims.get("exp")
    if isinstance(exp, int | float) and moment >= exp + LEEWAY:
        raise OAuthError("the access token the authorization server issued has already expired")
    nbf = claims.get("nbf")
    if isinstance(nbf, int | float) and moment + LEEWAY < nbf:
        raise OAuthError("the access token the authorization server issued is not valid yet (nbf)")


def fetch_jwks(http: httpx.Client, url: str) -> dict[str, Any] | None:
    """The JSON Web Key Set at ``url``; None when it cannot be had (then claims only are checked)."""
    try:
        response = http.get(url)
        data = response.json() if response.status_code == 200 else None
    except Exception:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("keys"), list) else None
