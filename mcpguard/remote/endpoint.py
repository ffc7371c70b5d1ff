"""Which remote URLs the bridge talks to, the identity pinned for them, and the headers a user adds.

The URL is parsed by httpx, the same parser that later connects: checking with one parser and
connecting with another is how "http://127.0.0.1\\@evil.example/" tricks get through. Plain http
is allowed only to loopback hosts, where nothing crosses the network; credentials in the URL are
refused (they would be pinned, shown and logged), so they go in ``--header`` instead.
"""

from __future__ import annotations

import ipaddress

from mcpguard.remote.errors import BadHeader, InsecureURL

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    import httpx

IDENTITY_KIND = "remote"
"""First element of the pinned "command line" of a remote server: ``["remote", URL]``."""

RESERVED_HEADERS = frozenset(
    {
        "accept",
        "connection",
        "content-length",
        "content-type",
        "host",
        "last-event-id",
        "mcp-protocol-version",
        "mcp-session-id",
        "transfer-encoding",
    }
)
"""Headers the transport sets itself; a user's value for them would break the protocol."""

_DEFAULT_PORTS = {"http": 80, "https": 443}

KEYRING_REF = "@keyring:"
"""``--header NAME=@keyring:SECRET``: the value is the keyring secret ``SECRET``, read at start."""


class Endpoint:
    """A checked remote MCP endpoint.

    Attributes:
        url: The URL requests go to, as given (query included: some servers take their key there).
        origin: ``(scheme, host, port)``; no request with credentials ever leaves it.
        identity: ``["remote", "scheme://host:port/path"]``, pinned like a local command line.
    """

    __slots__ = ("url", "origin", "identity", "display")

    def __init__(self, url: httpx.URL) -> None:
        self.url = url
        port = url.port if url.port is not None else _DEFAULT_PORTS[url.scheme]
        self.origin = (url.scheme, url.host, port)
        host = f"[{url.host}]" if ":" in url.host else url.host
        path = url.path or "/"
        self.display = f"{url.scheme}://{host}:{port}{path}"
        """The URL without query or fragment: what messages and logs show (a query may hold a key)."""
        self.identity = [IDENTITY_KIND, self.display]

    def __repr__(self) -> str:
        return f"Endpoint({self.display!r})"

    def same_origin(self, url: httpx.URL) -> bool:
        """Whether ``url`` is on this endpoint's scheme, host and port (a redirect or legacy POST target)."""
        port = url.port if url.port is not None else _DEFAULT_PORTS.get(url.scheme)
        return (url.scheme, url.host, port) == self.origin


def check_url(text: str) -> Endpoint:
    """The endpoint for a user's URL, or an error saying why the bridge will not use it.

    Raises:
        InsecureURL: Not http(s), plain http to a host that is not loopback, no host, or user
            information (``user:password@``) in the URL.
    """
    import httpx

    try:
        url = httpx.URL(text)
    except (httpx.InvalidURL, TypeError) as exc:
        raise InsecureURL(f"{text!r} is not a valid URL ({exc})") from None
    if url.scheme not in _DEFAULT_PORTS:
        shown = url.scheme or "none"
        raise InsecureURL(f"the URL must start with https:// (or http:// for this machine); its scheme is {shown}")
    if not url.host:
        raise InsecureURL(f"the URL {text!r} names no host")
    if url.userinfo:
        raise InsecureURL(
            "the URL holds a user name or password; remove it and pass the credential with "
            "--header 'Authorization=...' instead"
        )
    if url.scheme == "http" and not is_loopback(url.host):
        raise InsecureURL(
            f"plain http is allowed only to this machine (localhost, 127.0.0.1, ::1); {url.host} would get "
            "every message and credential unencrypted. Use https://"
        )
    return Endpoint(url.copy_with(fragment=None))


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ``::1`` (also as an IPv4-mapped address)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def parse_headers(options: Iterable[str]) -> dict[str, str]:
    """``--header`` options as a dict; a later name replaces an earlier one, whatever its case.

    Both ``Name=value`` and ``Name: value`` (mcp-remote's spelling) are accepted: neither ``=`` nor
    ``:`` can occur in a header name, so the first of them ends it. Error messages never show a
    value, which is often a secret.

    Raises:
        BadHeader: No separator, a name that is not an HTTP token, a value with a line break, or a
            header the transport sets itself.
    """
    headers: dict[str, str] = {}
    names: dict[str, str] = {}
    for option in options:
        cut = min((i for i in (option.find("="), option.find(":")) if i >= 0), default=-1)
        name = option[:cut].strip() if cut >= 0 else ""
        if not name or not _is_token(name):
            raise BadHeader(
                "--header needs NAME=VALUE (or 'NAME: VALUE'), where NAME is letters, digits and !#$%&'*+-.^_`|~ only"
            )
        value = option[cut + 1 :].strip()
        if any(c in value for c in "\r\n\x00"):
            raise BadHeader(f"--header {name}: the value must not contain a line break")
        if name.lower() in RESERVED_HEADERS:
            raise BadHeader(f"--header {name}: mcpguard sets this header itself")
        previous = names.pop(name.lower(), None)
        if previous is not None:
            del headers[previous]
        names[name.lower()] = name
        headers[name] = value
    return headers


def _is_token(name: str) -> bool:
    return all(c.isascii() and (c.isalnum() or c in "!#$%&'*+-.^_`|~") for c in name)


def resolve_keyring_headers(headers: dict[str, str], lookup: Callable[[str], str | None]) -> dict[str, str]:
    """``headers`` with every ``@keyring:SECRET`` value replaced by the secret (``lookup`` is called lazily).

    Raises:
        BadHeader: A named secret is not in the keyring (a ``SecretsUnavailable`` from ``lookup``
            passes through).
    """
    resolved: dict[str, str] = {}
    for name, value in headers.items():
        if value.startswith(KEYRING_REF):
            secret = value[len(KEYRING_REF) :]
            found = lookup(secret)
            if found is None:
                raise BadHeader(f"--header {name}: the keyring has no secret named {secret!r}")
            if any(c in found for c in "\r\n\x00"):
                raise BadHeader(f"--header {name}: the value must not contain a line break")
            value = found
        resolved[name] = value
    return resolved
