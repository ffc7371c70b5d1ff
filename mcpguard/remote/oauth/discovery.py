"""Finding the authorization server of a protected MCP server, and checking what it says of itself.

Order matters and is the specification's: the ``resource_metadata`` URL of the 401 challenge, else
the path-aware Protected Resource Metadata well-known URL, then the root one (RFC 9728 section 3.1).
For the authorization server: RFC 8414 path-aware, OpenID discovery path-inserted, OpenID discovery
path-appended; for an issuer without a path, RFC 8414 then OpenID. Every metadata document's
``issuer`` must be *identical* to the identifier it was discovered from (RFC 8414 section 3.3):
metadata that names another issuer is how a mix-up attack starts, so it is refused unless the user
named that issuer with ``--trust-issuer``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from mcpguard.remote.errors import RemoteError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import httpx

PRM_WELL_KNOWN = "/.well-known/oauth-protected-resource"
OAUTH_WELL_KNOWN = "/.well-known/oauth-authorization-server"
OIDC_WELL_KNOWN = "/.well-known/openid-configuration"
MAX_METADATA_BYTES = 256 * 1024
"""A metadata document larger than this is not metadata."""


class OAuthError(RemoteError):
    """Signing in to a remote server failed; the message says why, and never holds a token or code."""


def check_secure(url: str, what: str) -> httpx.URL:
    """``url`` parsed, if it is https (or http to this machine); refused otherwise.

    Authorization and metadata URLs carry codes, tokens and client secrets: plain http only where
    nothing crosses the network.

    Raises:
        OAuthError: Another scheme, no host, or plain http to another host.
    """
    import httpx

    try:
        parsed = httpx.URL(url)
    except Exception as exc:
        raise OAuthError(f"the {what} URL {url!r} is not a URL ({exc})") from exc
    if parsed.scheme == "https" and parsed.host:
        return parsed
    if parsed.scheme == "http" and is_loopback(parsed.host):
        return parsed
    raise OAuthError(f"the {what} URL {url!r} is refused: https is required (plain http only to this machine)")


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_PARAM = re.compile(r'([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def parse_challenge(value: str | None) -> dict[str, str]:
    """The parameters of a ``Bearer`` challenge in a ``WWW-Authenticate`` header (names lower-cased).

    Only the Bearer challenge counts: another scheme's parameters are not the resource server's
    word on OAuth. A header with no scheme at all is read as Bearer (some servers omit it).
    """
    if not value:
        return {}
    text = value.strip()
    match = re.search(r"(?i)\bbearer\b", text)
    if match is not None:
        text = text[match.end() :]
    elif re.match(r"^[A-Za-z][A-Za-z0-9_-]*\s+[A-Za-z0-9_.-]+\s*=", text):
        return {}  # another scheme
    params: dict[str, str] = {}
    for m in _PARAM.finditer(text):
        raw = m.group(2) if m.group(2) is not None else m.group(3)
        params.setdefault(m.group(1).lower(), re.sub(r"\\(.)", r"\1", raw))
    return params


def prm_urls(endpoint: httpx.URL) -> list[str]:
    """The Protected Resource Metadata URLs to try, path-aware first (RFC 9728 section 3.1)."""
    origin = f"{endpoint.scheme}://{endpoint.netloc.decode('ascii')}"
    path = endpoint.path.rstrip("/")
    urls = [f"{origin}{PRM_WELL_KNOWN}{path}"] if path else []
    urls.append(f"{origin}{PRM_WELL_KNOWN}")
    return urls


def as_metadata_urls(issuer: str) -> list[str]:
    """The authorization server metadata URLs for ``issuer``, in the MCP specification's order."""
    import httpx

    url = httpx.URL(issuer)
    origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
    path = url.path.rstrip("/")
    if path:
        return [
            f"{origin}{OAUTH_WELL_KNOWN}{path}",
            f"{origin}{OIDC_WELL_KNOWN}{path}",
            f"{origin}{path}{OIDC_WELL_KNOWN}",
        ]
    return [f"{origin}{OAUTH_WELL_KNOWN}", f"{origin}{OIDC_WELL_KNOWN}"]


def same_identifier(a: str, b: str) -> bool:
    """Identical issuer identifiers, character for character (RFC 8414 section 3.3, RFC 9207 section 2.4).

    No normalisation at all, not even of a trailing slash or the case of the host: two spellings
    are two issuers, and a lenient comparison is exactly what a mix-up attack needs.
    """
    return a == b


@dataclass
class ProtectedResource:
    """What the MCP server says of itself (RFC 9728), or what is assumed when it says nothing."""

    resource: str | None
    """The ``resource`` identifier, sent as RFC 8707 ``resource`` exactly as published; None without PRM."""
    authorization_servers: list[str]
    scopes_supported: list[str] = field(default_factory=list)


@dataclass
class ServerMetadata:
    """An authorization server's metadata (RFC 8414), checked; defaults when it published none."""

    issuer: str
    raw: dict[str, Any]

    def url(self, key: str) -> str | None:
        value = self.raw.get(key)
        return value if isinstance(value, str) and value else None

    def strings(self, key: str) -> list[str]:
        value = self.raw.get(key)
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    @property
    def authorization_endpoint(self) -> str:
        return self.url("authorization_endpoint") or ""

    @property
    def token_endpoint(self) -> str:
        return self.url("token_endpoint") or ""


def _get_json(http: httpx.Client, url: str, what: str) -> dict[str, Any] | None:
    """The JSON object at ``url``, or None when there is none (4xx, not JSON); network errors raise."""
    import httpx

    check_secure(url, what)
    try:
        response = http.get(url, headers={"Accept": "application/json", "MCP-Protocol-Version": "2025-11-25"})
    except httpx.HTTPError as exc:
        raise OAuthError(f"could not fetch the {what} at {url}: {exc}") from exc
    if response.status_code != 200 or len(response.content) > MAX_METADATA_BYTES:
        return None
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def fetch_protected_resource(
    http: httpx.Client, endpoint: httpx.URL, challenge: dict[str, str]
) -> ProtectedResource | None:
    """The server's Protected Resource Metadata, checked against the endpoint; None if it publishes none.

    Raises:
        OAuthError: The metadata names another resource than this server, or no authorization server.
    """
    candidates = [challenge["resource_metadata"]] if challenge.get("resource_metadata") else []
    candidates += [u for u in prm_urls(endpoint) if u not in candidates]
    for url in candidates:
        data = _get_json(http, url, "protected resource metadata")
        if data is None:
            continue
        resource = data.get("resource")
        if not isinstance(resource, str) or not resource_covers(resource, endpoint):
            raise OAuthError(
                f"the protected resource metadata at {url} names the resource {resource!r}, "
                f"not this server ({endpoint.copy_with(query=None, fragment=None)}); refusing to sign in for it"
            )
        servers = data.get("authorization_servers")
        if not isinstance(servers, list) or not [s for s in servers if isinstance(s, str)]:
            raise OAuthError(f"the protected resource metadata at {url} names no authorization server")
        scopes = data.get("scopes_supported")
        return ProtectedResource(
            resource,
            [s for s in servers if isinstance(s, str)],
            [s for s in scopes if isinstance(s, str)] if isinstance(scopes, list) else [],
        )
    return None


def resource_covers(resource: str, endpoint: httpx.URL) -> bool:
    """Whether ``resource`` is this endpoint or a parent of it (same origin, path prefix at a ``/``)."""
    import httpx

    try:
        res = httpx.URL(resource)
    except Exception:
        return False
    if (res.scheme, res.host, res.port) != (endpoint.scheme, endpoint.host, endpoint.port) or res.query or res.fragment:
        return False
    base = res.path.rstrip("/")
    path = endpoint.path
    return path == base or path.startswith(base + "/") or base == ""


def fetch_server_metadata(http: httpx.Client, issuer: str, trust_issuer: str | None = None) -> ServerMetadata | None:
    """The authorization server's metadata, its ``issuer`` checked; None if no well-known URL has any.

    Raises:
        OAuthError: The metadata's ``issuer`` differs from ``issuer`` (and is not the trusted override),
            or an endpoint URL is not https.
    """
    check_secure(issuer, "authorization server")
    for url in as_metadata_urls(issuer):
        data = _get_json(http, url, "authorization server metadata")
        if data is None:
            continue
        published = data.get("issuer")
        if not isinstance(published, str) or not same_identifier(published, issuer):
            if trust_issuer is None or not isinstance(published, str) or not same_identifier(published, trust_issuer):
                raise OAuthError(
                    f"the authorization server metadata at {url} names the issuer {published!r}, not {issuer!r} "
                    "(RFC 8414 section 3.3); refusing to sign in there. If you trust it, start the bridge with "
                    f"--trust-issuer {published}"
                    if isinstance(published, str)
                    else f"the authorization server metadata at {url} names no issuer"
                )
        for key in (
            "authorization_endpoint",
            "token_endpoint",
            "registration_endpoint",
            "revocation_endpoint",
            "jwks_uri",
        ):
            value = data.get(key)
            if isinstance(value, str):
                check_secure(value, key.replace("_", " "))
        return ServerMetadata(published, data)
    return None


def default_metadata(issuer: str) -> ServerMetadata:
    """The 2025-03-26 fallback: endpoints at fixed paths of the server's origin, when no metadata exists."""
    base = issuer.rstrip("/")
    return ServerMetadata(
        issuer,
        {
            "issuer": issuer,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "registration_endpoint": f"{base}/register",
            "code_challenge_methods_supported": ["S256"],
            "_defaults": True,
        },
    )


def discover(
    http: httpx.Client, endpoint: httpx.URL, challenge: dict[str, str], trust_issuer: str | None = None
) -> tuple[ProtectedResource, ServerMetadata]:
    """The protected resource and its (first) authorization server's checked metadata.

    Without Protected Resource Metadata (servers of 2025-03-26) the authorization server is the
    endpoint's origin, and without its metadata the default endpoints are assumed.

    Raises:
        OAuthError: Anything that makes signing in unsafe or impossible, said in one sentence.
    """
    prm = fetch_protected_resource(http, endpoint, challenge)
    if prm is None:
        origin = f"{endpoint.scheme}://{endpoint.netloc.decode('ascii')}"
        metadata = fetch_server_metadata(http, origin, trust_issuer)
        return ProtectedResource(None, [origin]), metadata or default_metadata(origin)
    issuer = prm.authorization_servers[0]
    metadata = fetch_server_metadata(http, issuer, trust_issuer)
    if metadata is None:
        raise OAuthError(f"the authorization server {issuer} publishes no metadata (RFC 8414 or OpenID discovery)")
    return prm, metadata
