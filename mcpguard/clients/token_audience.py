"""Flags for bearer tokens that a client config sends to a server they were not issued for.

The MCP authorization specification binds an access token to one resource (RFC 8707): a server
must refuse a token issued for another, and nothing may pass a token on to a second server. A
config that carries a literal token breaks that quietly in two ways mcpguard can see without any
network: the token is a JWT whose ``aud`` claim names another resource, or the very same token is
also sent to another origin by another entry (whoever runs either server can replay it at the
other). An expired JWT still written in a config is worth a warning too: it is stale, yet still a
credential lying in a file.

A JWT's claims are decoded without verifying its signature: nothing here trusts the token, it only
reads where the token says it belongs. Opaque tokens (API keys) carry no such claim and are only
compared for reuse. References (``@keyring:NAME``, ``${VAR}``, ``${env:VAR}``, ``{env:VAR}``) and
placeholders are not literal tokens and are left alone.

A token's value is never kept, shown nor logged: a use is remembered by an HMAC whose key is made
at random in this process and never leaves it, and a flag names only the header or variable, the
audience and the origin. ``jwt``, ``hmac`` and ``hashlib`` are imported when a token is seen, so
reading configs without tokens costs nothing extra.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from mcpguard.clients.entries import KEYRING_REF
from mcpguard.clients.risk import Flag
from mcpguard.clients.table import EntryShape
from mcpguard.secrets import detect


@dataclass(frozen=True)
class TokenUse:
    """One literal token an entry sends, described without its value."""

    where: str
    """Where the entry puts it, for a sentence: ``the Authorization header``, ``the variable API_TOKEN``."""
    resources: tuple[str, ...]
    """The URLs the entry talks to (one for a remote entry; those in its arguments for a local one)."""
    digest: str = field(repr=False)
    """A keyed hash of the value, comparable within this process only."""
    audiences: tuple[str, ...] | None = None
    """The JWT's ``aud`` (empty when it has none); None for an opaque token."""
    expires: float | None = None
    """The JWT's ``exp`` (seconds since the epoch), when it has one."""

    @property
    def origins(self) -> tuple[str, ...]:
        """Each distinct origin of :attr:`resources`, in order: what reuse compares."""
        out: list[str] = []
        for url in self.resources:
            found = _origin(url)
            if found is not None and found not in out:
                out.append(found)
        return tuple(out)


_SCHEMES = {"bearer", "token", "basic", "bot", "apikey", "dpop"}
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9_-]*)\s+(?P<token>\S+)$")
_JWT = re.compile(r"^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
HEADER_OPTIONS = frozenset({"--header", "-H", "--headers"})
"""Options whose value is one header line (mcp-remote, curl-like servers, ``mcpguard remote``)."""
_URL_IN_TEXT = re.compile(r"https?://[^\s\"'<>,;]+", re.IGNORECASE)
_DEFAULT_PORTS = {"http": 80, "https": 443}
HEADER_PLACES: tuple[tuple[str, ...], ...] = (("headers",), ("http_headers",), ("requestOptions", "headers"))
"""Where clients keep a remote entry's static headers (most; Codex; Continue)."""
INLINE_BEARER = ("bearer_token",)
"""Keys whose value is itself the bearer token (Codex)."""
_key: list[bytes] = []


def _digest(token: str) -> str:
    import hashlib
    import hmac
    import os

    if not _key:
        _key.append(os.urandom(32))
    return hmac.new(_key[0], token.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def _parts(url: str) -> tuple[str, str, int, str] | None:
    """``(scheme, host, port, path without its trailing slash)`` of an http(s) URL, else None."""
    try:
        split = urlsplit(url.strip())
        port = split.port
    except ValueError:
        return None
    scheme = split.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not split.hostname:
        return None
    return scheme, split.hostname.lower(), port or _DEFAULT_PORTS[scheme], split.path.rstrip("/")


def _origin(url: str) -> str | None:
    parts = _parts(url)
    if parts is None:
        return None
    scheme, host, port, _ = parts
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" if port == _DEFAULT_PORTS[scheme] else f"{scheme}://{shown}:{port}"


def covers(audience: str, url: str) -> bool:
    """Whether a token for ``audience`` belongs at ``url``, compared as MCP compares resources.

    Same scheme, host and port, and the audience's path is the URL's path or a parent of it at a
    ``/`` (a trailing slash means nothing): a token for ``https://api.example`` serves
    ``https://api.example/mcp``, one for ``https://api.example/mc`` does not.
    """
    aud, server = _parts(audience), _parts(url)
    if aud is None or server is None or aud[:3] != server[:3]:
        return False
    base, path = aud[3], server[3]
    return base == "" or path == base or path.startswith(base + "/")


def _printable(text: str, limit: int = 80) -> str:
    """Text from a config or a token, safe in one line of a terminal (no control or hidden characters)."""
    shown = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _credential(value: str) -> str | None:
    """The token in a header value (after its ``Bearer`` scheme); None for references and placeholders."""
    text = value.strip()
    if "${" in text or "{env:" in text:
        return None
    found = _SCHEME.match(text)
    if found is not None and found["scheme"].lower() in _SCHEMES:
        token = found["token"]
    elif text and not any(c.isspace() for c in text):
        token = text
    else:
        return None
    if token.startswith(KEYRING_REF):
        return None
    if _JWT.match(token):
        return token
    return None if detect.is_placeholder(token) else token


def _has_scheme(value: str) -> bool:
    found = _SCHEME.match(value.strip())
    return found is not None and found["scheme"].lower() in _SCHEMES


def header_line(text: str) -> tuple[str, str] | None:
    """``NAME: VALUE`` (mcp-remote) or ``NAME=VALUE`` (mcpguard remote), split at the first of the two."""
    cuts = [i for i in (text.find(":"), text.find("=")) if i > 0]
    if not cuts:
        return None
    name, value = text[: min(cuts)].strip(), text[min(cuts) + 1 :].strip()
    return (name, value) if _HEADER_NAME.match(name) else None


def _is_token_header(name: str, value: str) -> bool:
    return name.lower() in ("authorization", "proxy-authorization") or detect.is_secret_name(name) or _has_scheme(value)


def token_in(name: str | None, value: str) -> str | None:
    """The literal token ``value`` passes, without its ``Bearer`` scheme; None when it passes none.

    ``name`` is the header, option or variable that holds ``value`` (None for a bare argument): a
    credential name says the value is a token whatever it looks like, while a bare value counts
    only with an auth scheme or as a JWT. Shared with :mod:`mcpguard.clients.display`, which hides
    exactly the part of an argument these rules call a token, so the flags and the masking agree.
    """
    stripped = value.strip()
    if (name is not None and _is_token_header(name, value)) or _has_scheme(value) or _JWT.match(stripped):
        return _credential(value)
    return None


def _use(where: str, value: str, resources: tuple[str, ...], *, jwt_only: bool = False) -> TokenUse | None:
    token = _credential(value)
    if token is None:
        return None
    claims = _claims(token)
    if claims is None and jwt_only:
        return None
    if claims is None:
        return TokenUse(where, resources, _digest(token))
    aud = claims.get("aud")
    audiences: tuple[str, ...] = ()
    if isinstance(aud, str):
        audiences = (aud,)
    elif isinstance(aud, list):
        audiences = tuple(a for a in aud if isinstance(a, str))
    exp = claims.get("exp")
    expires = float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None
    return TokenUse(where, resources, _digest(token), audiences, expires)


def _claims(token: str) -> dict[str, Any] | None:
    """A JWT's claims, read without checking anything (the signature, ``exp``, ``aud``); None if not a JWT."""
    if not _JWT.match(token):
        return None
    import jwt

    options: Any = {
        "verify_signature": False,
        "verify_exp": False,
        "verify_nbf": False,
        "verify_iat": False,
        "verify_aud": False,
        "verify_iss": False,
    }
    try:
        claims = jwt.decode(token, options=options)
    except jwt.PyJWTError:
        return None
    return claims if isinstance(claims, dict) else None


def _env_block(entry: Mapping[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key in detect.ENV_KEYS:
        block = entry.get(key)
        if isinstance(block, Mapping):
            out += [(str(k), v) for k, v in block.items() if isinstance(v, str)]
    return out


def _arg_candidates(args: Sequence[str]) -> list[tuple[str, str, bool]]:
    """``(where, value, jwt_only)`` for each argument that passes a header or a bearer token."""
    out: list[tuple[str, str, bool]] = []
    i = 0
    while i < len(args):
        arg = args[i]
        header: str | None = None
        if arg in HEADER_OPTIONS and i + 1 < len(args):
            header = args[i + 1]
            i += 1
        elif arg.startswith(("--header=", "-H=")):
            header = arg.split("=", 1)[1]
        if header is not None:
            line = header_line(header)
            if line is not None and _is_token_header(*line):
                out.append((f"the {_printable(line[0], 40)} header", line[1], False))
            i += 1
            continue
        name: str | None = None
        value = arg
        if arg.startswith("-") and "=" in arg:
            name, value = arg.split("=", 1)
        elif i > 0 and args[i - 1].startswith("-"):
            name = args[i - 1]
        if _has_scheme(value) or _JWT.match(value.strip()):
            where = f"the argument {_printable(name, 40)}" if name else "an argument"
            out.append((where, value, not _has_scheme(value)))
        i += 1
    return out


def token_uses(entry: Any, shape: EntryShape) -> tuple[TokenUse, ...]:
    """Every literal token a config entry sends, and the URLs it sends them to.

    A remote entry (``url``, ``serverUrl``, ``httpUrl``) sends its token headers to its URL. A
    command entry (``npx mcp-remote URL --header ...``, a wrapped ``mcpguard remote``, any local
    server given a URL) sends the ``--header`` values, ``Bearer`` arguments and variables, and JWTs
    in its arguments and variables, to the URLs among its arguments and variables. An entry that
    names no URL has nothing to compare against and yields nothing.
    """
    if not isinstance(entry, Mapping):
        return ()
    found: list[TokenUse] = []
    url = next((entry[k] for k in shape.remote_keys if isinstance(entry.get(k), str)), None)
    if isinstance(url, str):
        if _parts(url) is None or "${" in url or "{env:" in url:
            return ()
        resources: tuple[str, ...] = (url.strip(),)
        sent: list[tuple[str, str]] = []
        for path in HEADER_PLACES:
            node: Any = entry
            for key in path:
                node = node.get(key) if isinstance(node, Mapping) else None
            if isinstance(node, Mapping):
                sent += [
                    (f"the {_printable(str(name), 40)} header", value)
                    for name, value in node.items()
                    if isinstance(value, str) and _is_token_header(str(name), value)
                ]
        sent += [(f"its {key}", entry[key]) for key in INLINE_BEARER if isinstance(entry.get(key), str)]
        for where, value in sent:
            use = _use(where, value, resources)
            found += [use] if use is not None else []
        return _distinct(found)
    args = entry.get(shape.args, [])
    args = [a for a in args if isinstance(a, str)] if isinstance(args, list) else []
    command = entry.get(shape.command)
    words = [command, *args] if isinstance(command, str) else args
    env = _env_block(entry)
    urls: list[str] = []
    for text in [*words, *(v for _, v in env)]:
        for match in _URL_IN_TEXT.findall(text):
            if _parts(match) is not None and match not in urls:
                urls.append(match)
    if not urls:
        return ()
    candidates = _arg_candidates(words)
    for name, value in env:
        line = header_line(value) if not _has_scheme(value) else None
        if line is not None and _is_token_header(*line) and _credential(line[1]) is not None:
            candidates.append((f"the variable {_printable(name, 40)}", line[1], False))
        elif _has_scheme(value) or _JWT.match(value.strip()):
            candidates.append((f"the variable {_printable(name, 40)}", value, not _has_scheme(value)))
    for where, value, jwt_only in candidates:
        use = _use(where, value, tuple(urls), jwt_only=jwt_only)
        found += [use] if use is not None else []
    return _distinct(found)


def _distinct(uses: list[TokenUse]) -> tuple[TokenUse, ...]:
    """One use per token: the same value passed twice by one entry is one fact."""
    seen: set[str] = set()
    out: list[TokenUse] = []
    for use in uses:
        if use.digest not in seen:
            seen.add(use.digest)
            out.append(use)
    return tuple(out)


def _listing(items: Sequence[str], limit: int = 2) -> str:
    shown = ", ".join(_printable(i) for i in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def audience_flags(uses: Sequence[TokenUse], now: float | None = None) -> list[Flag]:
    """What one entry's tokens say about themselves: issued for another resource, or expired.

    ``danger`` when a JWT's ``aud`` names other URLs only; ``warning`` when it names no URL at all
    (``account``, a client id: not bound to this server, not clearly another's) and when it expired.
    A JWT without ``aud`` and an opaque token say nothing here.
    """
    moment = time.time() if now is None else now
    flags: list[Flag] = []
    for use in uses:
        if use.audiences is None or not use.resources:
            continue
        origins = _listing(use.origins)
        if use.audiences and not any(covers(a, r) for a in use.audiences for r in use.resources):
            if any(_parts(a) is not None for a in use.audiences):
                flags.append(
                    Flag("danger", f"a token issued for {_listing(use.audiences)} is sent to {origins} ({use.where})")
                )
            else:
                flags.append(
                    Flag(
                        "warning",
                        f"a token issued for the audience {_listing(use.audiences)}, not for this server, is sent "
                        f"to {origins} ({use.where})",
                    )
                )
        if use.expires is not None and use.expires <= moment:
            day = time.strftime("%Y-%m-%d", time.gmtime(use.expires))
            flags.append(Flag("warning", f"an expired token (since {day}) is still sent to {origins} ({use.where})"))
    return flags


def reuse_flags(entries: Sequence[tuple[str, Sequence[TokenUse]]]) -> list[list[Flag]]:
    """For each ``(label, uses)`` entry, a ``danger`` flag per token another entry sends to another origin.

    ``label`` names an entry in the other entries' sentences (``'github' of Cursor``). Two entries
    that send one token to the same origin (one server configured in two clients) are fine.
    """
    holders: dict[str, list[tuple[int, TokenUse]]] = {}
    for index, (_, uses) in enumerate(entries):
        for use in uses:
            if use.origins:
                holders.setdefault(use.digest, []).append((index, use))
    out: list[list[Flag]] = [[] for _ in entries]
    for group in holders.values():
        for index, use in group:
            others = [(j, u) for j, u in group if j != index and set(u.origins).isdisjoint(use.origins)]
            if not others:
                continue
            j, other = others[0]
            more = f" and {len(others) - 1} other entries" if len(others) > 1 else ""
            reason = (
                f"the token in {use.where} is also sent to {_listing(other.origins)} by "
                f"{_printable(entries[j][0])}{more}: either server can use it at the other"
            )
            if all(f.reason != reason for f in out[index]):
                out[index].append(Flag("danger", reason))
    return out
