"""Which URLs the bridge accepts, the identity it pins for them, and the user's extra headers."""

from __future__ import annotations

import httpx
import pytest

from mcpguard.remote.endpoint import check_url, is_loopback, parse_headers, resolve_keyring_headers
from mcpguard.remote.errors import BadHeader, InsecureURL


@pytest.mark.parametrize(
    ("url", "identity"),
    [
        ("https://mcp.example.com/mcp", "https://mcp.example.com:443/mcp"),
        ("https://MCP.Example.com:8443/a/b?key=secret#frag", "https://mcp.example.com:8443/a/b"),
        ("https://mcp.example.com", "https://mcp.example.com:443/"),
        ("http://127.0.0.1:8000/mcp", "http://127.0.0.1:8000/mcp"),
        ("http://127.9.9.9/mcp", "http://127.9.9.9:80/mcp"),
        ("http://localhost:3000/sse", "http://localhost:3000/sse"),
        ("http://[::1]:8000/mcp", "http://[::1]:8000/mcp"),
    ],
)
def test_accepted_urls_and_their_pinned_identity(url: str, identity: str) -> None:
    endpoint = check_url(url)
    assert endpoint.identity == ["remote", identity]
    assert endpoint.display == identity
    assert "secret" not in " ".join(endpoint.identity), "a query may hold a key: never pinned or shown"


def test_the_query_still_reaches_the_server() -> None:
    assert check_url("https://h.example/mcp?key=1#x").url == httpx.URL("https://h.example/mcp?key=1")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://mcp.example.com/mcp", "plain http is allowed only to this machine"),
        ("http://10.0.0.5/mcp", "plain http is allowed only"),
        ("http://localhost.evil.example/mcp", "plain http is allowed only"),
        ("http://127.0.0.1.nip.io/mcp", "plain http is allowed only"),
        ("ftp://mcp.example.com/mcp", "its scheme is ftp"),
        ("file:///etc/passwd", "its scheme is file"),
        ("mcp.example.com/mcp", "its scheme is none"),
        ("https://user:pw@mcp.example.com/mcp", "user name or password"),
        ("https:///mcp", "names no host"),
    ],
)
def test_refused_urls_say_why(url: str, words: str) -> None:
    with pytest.raises(InsecureURL) as caught:
        check_url(url)
    assert words in str(caught.value)
    assert "pw" not in str(caught.value)


def test_url_tricks_are_judged_by_the_parser_that_connects() -> None:
    """A backslash or an @ in the wrong place must not turn a remote host into "localhost"."""
    with pytest.raises(InsecureURL):
        check_url("http://127.0.0.1\\@evil.example/mcp")
    with pytest.raises(InsecureURL):
        check_url("http://localhost@evil.example/mcp")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST.", True),
        ("127.0.0.1", True),
        ("127.255.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("128.0.0.1", False),
        ("::2", False),
        ("example.com", False),
        ("0.0.0.0", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_same_origin_compares_scheme_host_and_port() -> None:
    endpoint = check_url("https://mcp.example.com/mcp")
    assert endpoint.same_origin(httpx.URL("https://mcp.example.com:443/other?x=1"))
    assert not endpoint.same_origin(httpx.URL("http://mcp.example.com/mcp"))
    assert not endpoint.same_origin(httpx.URL("https://mcp.example.com:8443/mcp"))
    assert not endpoint.same_origin(httpx.URL("https://evil.example.com/mcp"))


# -- headers -----------------------------------------------------------------------------------------


def test_headers_in_both_spellings() -> None:
    assert parse_headers(["X-Api-Key=abc==", "Authorization: Bearer t0k=n", "X-Empty="]) == {
        "X-Api-Key": "abc==",
        "Authorization": "Bearer t0k=n",
        "X-Empty": "",
    }


def test_a_later_header_replaces_an_earlier_one_whatever_its_case() -> None:
    assert parse_headers(["x-key=1", "X-Key=2"]) == {"X-Key": "2"}


@pytest.mark.parametrize(
    ("option", "words"),
    [
        ("no separator at all", "needs NAME=VALUE"),
        ("=value", "needs NAME=VALUE"),
        ("Bad Name=secret-value", "needs NAME=VALUE"),
        ("X-Key=a\nInjected: yes", "must not contain a line break"),
        ("Mcp-Session-Id=stolen", "sets this header itself"),
        ("host: evil.example", "sets this header itself"),
        ("content-type=text/plain", "sets this header itself"),
    ],
)
def test_bad_headers_are_refused_without_echoing_values(option: str, words: str) -> None:
    with pytest.raises(BadHeader) as caught:
        parse_headers([option])
    assert words in str(caught.value)
    assert "secret-value" not in str(caught.value)
    assert "stolen" not in str(caught.value)


def test_keyring_header_values_are_read_lazily_from_the_store() -> None:
    headers = parse_headers(["Authorization=@keyring:remote/s/HEADER_Authorization", "X-Team: platform"])
    asked: list[str] = []

    def lookup(name: str) -> str | None:
        asked.append(name)
        return {"remote/s/HEADER_Authorization": "Bearer t0ken"}.get(name)

    assert resolve_keyring_headers(headers, lookup) == {"Authorization": "Bearer t0ken", "X-Team": "platform"}
    assert asked == ["remote/s/HEADER_Authorization"]
    assert resolve_keyring_headers({"X-Team": "platform"}, lookup) == {"X-Team": "platform"}
    assert len(asked) == 1


def test_a_missing_keyring_header_is_refused_without_its_value() -> None:
    with pytest.raises(BadHeader, match="no secret named 'remote/s/HEADER_X'"):
        resolve_keyring_headers({"X": "@keyring:remote/s/HEADER_X"}, lambda name: None)
    with pytest.raises(BadHeader, match="line break"):
        resolve_keyring_headers({"X": "@keyring:n/X"}, lambda name: "a\nb")


def test_the_bridge_refuses_a_keyring_header_it_cannot_read(
    app_paths: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from mcpguard.cli import main

    ref = "Authorization=@keyring:remote/x/HEADER_Authorization"
    assert main(["remote", "https://mcp.example/mcp", "--name", "x", "--header", ref]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mcpguard: ") and "keyring" in err.lower()
