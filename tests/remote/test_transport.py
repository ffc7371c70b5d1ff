"""The Streamable HTTP transport against a fake server in httpx's MockTransport: each test one exchange."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mcpguard.proxy.jsonrpc import Oversized
from mcpguard.remote import transport as transport_module
from mcpguard.remote.auth import MAX_AUTH_RETRIES
from mcpguard.remote.transport import TRANSPORT_ERROR, HttpTransport, Outgoing
from tests.remote.fakes import (
    URL,
    VERSION,
    Delivered,
    FakeServer,
    encode,
    init_request,
    make_transport,
    notification,
    out,
    request,
    sse,
)


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reconnection delays of a real client are seconds; here they are milliseconds."""
    monkeypatch.setattr(transport_module, "DEFAULT_RETRY", 0.01)
    monkeypatch.setattr(transport_module, "BACKOFF_START", 0.01)
    monkeypatch.setattr(transport_module, "BACKOFF_MAX", 0.05)


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def delivered() -> Delivered:
    return Delivered()


@pytest.fixture
def transport(server: FakeServer, delivered: Delivered) -> Iterator[HttpTransport]:
    t = make_transport(server, delivered)
    yield t
    t.close()


def handshake(transport: HttpTransport, delivered: Delivered) -> None:
    transport.send(out(init_request()))
    transport.send(out(notification("notifications/initialized")))
    delivered.raw.clear()


# -- the basic exchange ------------------------------------------------------------------------------


def test_initialize_starts_a_session_and_later_requests_carry_it(
    transport: HttpTransport, server: FakeServer, delivered: Delivered
) -> None:
    transport.send(out(init_request()))
    assert delivered.messages[0]["result"]["protocolVersion"] == VERSION
    first = server.posts()[0]
    assert first.headers["accept"] == "application/json, text/event-stream"
    assert first.headers["content-type"] == "application/json"
    assert "mcp-session-id" not in first.headers and "mcp-protocol-version" not in first.headers
    assert transport.session_id == "session-1" and transport.protocol_version == VERSION

    transport.send(out(notification("notifications/initialized")))
    transport.send(out(request(1, "tools/list")))
    assert [m["id"] for m in delivered.messages] == [0, 1]
    for later in server.posts()[1:]:
        assert later.headers["mcp-session-id"] == "session-1"
        assert later.headers["mcp-protocol-version"] == VERSION
    assert transport.connected


def test_a_notification_gets_202_and_nothing_is_delivered(
    transport: HttpTransport, server: FakeServer, delivered: Delivered
) -> None:
    handshake(transport, delivered)
    transport.send(out(notification("notifications/cancelled", {"requestId": 3})))
    transport.send(out({"jsonrpc": "2.0", "id": 0, "result": {"roots": []}}))
    assert delivered.raw == []
    assert server.methods()[-2:] == ["notifications/cancelled", None]


def test_the_bytes_sent_are_the_bytes_given(transport: HttpTransport, server: FakeServer) -> None:
    transport.send(out(init_request()))
    raw = b'{"id":5,  "jsonrpc":"2.0","method":"x/future","params":{"n":1.50}}'
    transport.send(Outgoing(raw))
    assert server.posts()[-1].content == raw


def test_user_headers_go_with_every_request_but_never_replace_the_protocol_ones(
    server: FakeServer, delivered: Delivered
) -> None:
    t = make_transport(server, delivered, headers={"X-Api-Key": "k1"})
    try:
        handshake(t, delivered)
        t.send(out(request(1, "ping")))
    finally:
        t.close()
    assert all(r.headers["x-api-key"] == "k1" for r in server.requests)
    assert server.requests[-1].method == "DELETE"


def test_sse_answer_delivers_every_message_in_order(
    transport: HttpTransport, server: FakeServer, delivered: Delivered
) -> None:
    handshake(transport, delivered)
    progress = notification("notifications/progress", {"progressToken": 1, "progress": 0.5})
    roots = request(0, "roots/list")
    answer = {"jsonrpc": "2.0", "id": 7, "result": {"ok": True}}
    server.on_post = lambda req, body: (
        httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse(progress, roots, answer))
        if body.get("id") == 7
        else None
    )
    transport.send(out(request(7, "tools/call", {"name": "slow"})))
    assert delivered.messages == [progress, roots, answer]


def test_a_batch_is_answered_element_by_element(
    transport: HttpTransport, server: FakeServer, delivered: Delivered
) -> None:
    handshake(transport, delivered)
    batch = [request(1, "ping"), notification("notifications/x"), request(2, "ping")]
    answers = [{"jsonrpc": "2.0", "id": 2, "result": {}}, {"jsonrpc": "2.0", "id": 1, "result": {}}]
    server.on_post = lambda req, body: httpx.Response(200, json=answers) if isinstance(body, list) else None
    sent = out(batch)
    transport.send(sent)
    assert delivered.messages == [answers]
    assert not sent.waiting


def test_stateless_2026_requests_name_their_version_and_method_in_headers(
    transport: HttpTransport, server: FakeServer
) -> None:
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}
    transport.send(out(request(1, "server/discover", {"_meta": meta})))
    transport.send(out(request(2, "tools/call", {"name": "echo", "arguments": {}, "_meta": meta})))
    first, second = server.posts()
    assert first.headers["mcp-protocol-version"] == "2026-07-28"
    assert first.headers["mcp-method"] == "server/discover"
    assert second.headers["mcp-name"] == "echo"


# -- failures become answers -------------------------------------------------------------------------


def test_unreachable_server_answers_each_request_with_an_error_and_warns_once(
    delivered: Delivered, expect_warnings: list[str]
) -> None:
    def refuse(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=req)

    t = make_transport(refuse, delivered)
    t.send(out(init_request(1)))
    t.send(out(request(2, "tools/list")))
    t.send(out(notification("notifications/initialized")))
    t.close()
    errors = delivered.messages
    assert [e["id"] for e in errors] == [1, 2]
    assert all(e["error"]["code"] == TRANSPORT_ERROR for e in errors)
    assert "Connection refused" in errors[0]["error"]["message"]
    assert "https://mcp.example.com:443/mcp" in errors[0]["error"]["message"]
    assert len(expect_warnings) == 1 and "cannot reach the remote server 'fake'" in expect_warnings[0]
    assert t.attempted and not t.connected


def test_a_time_out_is_an_answer_too(delivered: Delivered, expect_warnings: list[str]) -> None:
    def slow(req: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=req)

    t = make_transport(slow, delivered, timeout=3)
    t.send(out(init_request(1)))
    assert "no answer within 3 s" in delivered.messages[0]["error"]["message"]


def test_http_error_with_a_jsonrpc_body_passes_the_servers_error(
    transport: HttpTransport, server: FakeServer, delivered: Delivered, expect_warnings: list[str]
) -> None:
    handshake(transport, delivered)
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32602, "message": "bad params"}}
    server.on_post = lambda req, b: httpx.Response(400, json=body) if b.get("id") == 4 else None
    transport.send(out(request(4, "tools/call")))
    assert delivered.messages == [{"jsonrpc": "2.0", "id": 4, "error": {"code": -32602, "message": "bad params"}}]
    assert expect_warnings == []


def test_http_error_without_a_body_is_named(
    transport: HttpTransport, server: FakeServer, delivered: Delivered, expect_warnings: list[str]
) -> None:
    handshake(transport, delivered)
    server.on_post = lambda req, b: httpx.Response(502) if b.get("id") == 4 else None
    transport.send(out(request(4, "tools/call")))
    message = delivered.messages[0]["error"]["message"]
    assert "answered HTTP 502 Bad Gateway" in message
    assert any("HTTP 502" in w for w in expect_warnings)


def test_a_json_body_that_answers_something_else_still_ends_the_request(
    transport: HttpTransport, server: FakeServer, delivered: Delivered, expect_warnings: list[str]
) -> None:
    handshake(transport, delivered)
    note = notification("notifications/message", {"level": "info", "data": "hi"})
    server.on_post = lambda req, b: httpx.Response(200, json=note) if b.get("id") == 4 else None
    transport.send(out(request(4, "ping")))
    assert delivered.messages[0] == note
    assert delivered.messages[1]["id"] == 4 and "not the answer" in delivered.messages[1]["error"]["message"]


def test_wrong_content_type_is_a_clear_error(
    transport: HttpTransport, server: FakeServer, delivered: Delivered, expect_warnings: list[str]
) -> None:
    handshake(transport, delivered)
    server.on_post = lambda req, b: httpx.Response(200, text="<html>login</html>") if b.get("id") == 4 else None
    transport.send(out(request(4, "ping")))
    assert "is the URL the server's MCP endpoint?" in delivered.messages[0]["error"]["message"]


def test_an_oversized_answer_is_refused_with_an_error_for_its_request(
    server: FakeServer, delivered: Delivered, expect_warnings: list[str]
) -> None:
    t = make_transport(server, delivered, max_message=200)
    handshake(t, delivered)
    big = {"jsonrpc": "2.0", "result": {"text": "x" * 1000}, "id": 9}  # the id comes last: still answered
    server.on_post = lambda req, b: httpx.Response(200, json=big) if b.get("id") == 9 else None
    t.send(out(request(9, "resources/read")))
    t.close()
    (answer,) = delivered.messages
    assert answer["id"] == 9 and "over the size limit" in answer["error"]["message"]


def test_an_oversized_notification_on_a_stream_goes_to_the_pipeline_as_such(
    server: FakeServer, delivered: Delivered, expect_warnings: list[str]
) -> None:
    t = make_transport(server, delivered, max_message=200)
    handshake(t, delivered)
    big = notification("notifications/message", {"data": "x" * 1000})
    answer = {"jsonrpc": "2.0", "id": 9, "result": {}}
    server.on_post = lambda req, b: (
        httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse(big, answer))
        if b.get("id") == 9
        else None
    )
    t.send(out(request(9, "ping")))
    t.close()
    assert isinstance(delivered.raw[0], Oversized)
    assert json.loads(delivered.raw[1]) == answer


# -- streams that break --------------------------------------------------------------------------------


def _broken(*parts: bytes) -> Iterator[bytes]:
    yield from parts
    raise httpx.ReadError("connection reset")


def test_a_broken_answer_stream_is_resumed_with_last_event_id(
    transport: HttpTransport, server: FakeServer, delivered: Delivered
) -> None:
    handshake(transport, delivered)
    progress = notification("notifications/progress", {"progressToken": 1, "progress": 0.5})
    answer = {"jsonrpc": "2.0", "id": 7, "result": {"done": True}}
    first = sse(progress, ids=["e-2"], prime="e-1", retry=5)
    server.on_post = lambda req, b: (
        httpx.Response(200, headers={"content-type": "text/event-stream"}, content=_broken(first))
        if b.get("id") == 7
        else None
    )
    resumed: list[httpx.Request] = []

    def on_get(req: httpx.Request) -> httpx.Response | None:
        if "last-event-id" not in req.headers:
            return None  # the GET stream for the server's own messages: not offered
        resumed.append(req)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse(answer, ids=["e-3"]))

    server.on_get = on_get
    transport.send(out(request(7, "tools/call")))
    assert delivered.messages == [progress, answer]
    assert resumed[0].headers["last-event-id"] == "e-2"
    assert resumed[0].headers["mcp-session-id"] == "session-1"
    assert resumed[0].headers["accept"] == "text/event-stream"


def test_a_stream_that_ends_without_an_answer_or_an_id_gets_an_error(
    transport: HttpTransport, server: FakeServer, delivered: Delivered, expect_warnings: list[str]
) -> None:
    handshake(transport, delivered)
    server.on_post = lambda req, b: (
        httpx.Response(200, headers={"content-type": "text/event-stream"}, content=b": ping\n\n")
        if b.get("id") == 7
        else None
    )
    transport.send(out(request(7, "tools/call")))
    assert "closed the answer stream before answering" in delivered.messages[0]["error"]["message"]


def test_resumption_gives_up_after_a_few_empty_attempts(
    transport: HttpTransport, server: FakeServer, delivered: Delivered, expect_warnings: list[str]
) -> None:
    handshake(transport, delivered)
    server.on_post = lambda req, b: (
        httpx.Response(200, headers={"content-type": "text/event-stream"}, content=_broken(sse(prime="p")))
        if b.get("id") == 7
        else None
    )
    gets: list[int] = []

    def on_get(req: httpx.Request) -> httpx.Response | None:
        if "last-event-id" not in req.headers:
            return None
        gets.append(1)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=b"")

    server.on_get = on_get
    transport.send(out(request(7, "tools/call")))
    assert len(gets) == transport_module.RESUME_ATTEMPTS
    assert "could not be resumed" in delivered.messages[0]["error"]["message"]


# -- sessions --------------------------------------------------------------------------------------


def test_a_forgotten_session_is_replaced_and_the_message_sent_again(
    server: FakeServer, delivered: Delivered, expect_warnings: list[str]
) -> None:
    renewed: list[int] = []
    t = make_transport(server, delivered, on_new_session=lambda: renewed.append(1))
    handshake(t, delivered)
    server.sessions.clear()  # the server restarted
    t.send(out(request(5, "tools/list")))
    t.close()
    assert delivered.messages == [{"jsonrpc": "2.0", "id": 5, "result": {"tools": server.tools}}]
    assert server.methods()[2:] == ["tools/list", "initialize", "notifications/initialized", "tools/list"]
    replay = server.bodies[3]
    assert replay["id"].startswith("mcpguard-reinit-") and replay["params"] == init_request()["params"]
    assert server.posts()[-1].headers["mcp-session-id"] == "session-2"
    assert renewed == [1]
    assert any("ended the session; starting a new one" in w for w in expect_warnings)


def test_a_new_session_with_another_protocol_version_is_refused(
    server: FakeServer, delivered: Delivered, expect_warnings: list[str]
) -> None:
    t = make_transport(server, delivered)
    handshake(t, delivered)
    server.sessions.clear()
    server.version = "2025-06-18"
    t.send(out(request(5, "tools/list")))
    assert "instead of '2025-11-25'; restart the client" in delivered.messages[0]["error"]["message"]
    server.version = VERSION
    t.send(out(request(6, "tools/list")))  # the next message tries again
    assert delivered.messages[1]["id"] == 6 and "result" in delivered.messages[1]
    t.close()


def test_concurrent_requests_that_hit_a_lost_session_start_one_new_session(
    server: FakeServer, delivered: Delivered, expect_warnings: list[str]
) -> None:
    t = make_transport(server, delivered)
    handshake(t, delivered)
    server.sessions.clear()
    threads = [threading.Thread(target=t.send, args=(out(request(i, "ping")),)) for i in range(1, 6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    t.close()
    assert sorted(m["id"] for m in delivered.messages) == [1, 2, 3, 4, 5]
    assert all("result" in m for m in delivered.messages)
    assert server.methods().count("initialize") == 2


def test_a_client_initialize_starts_over_without_the_old_session(transport: HttpTransport, server: FakeServer) -> None:
    transport.send(out(init_request(1)))
    transport.send(out(init_request(2)))
    assert "mcp-session-id" not in server.posts()[1].headers
    assert transport.session_id == "session-2"


def test_close_ends_the_session_with_delete(transport: HttpTransport, server: FakeServer, delivered: Delivered) -> None:
    handshake(transport, delivered)
    transport.close()
    delete = server.requests[-1]
    assert delete.method == "DELETE" and delete.headers["mcp-session-id"] == "session-1"
    assert server.sessions == set()
    transport.close()  # twice is harmless
    assert server.requests[-1] is delete


def test_no_delete_without_a_session(server: FakeServer, delivered: Delivered) -> None:
    t = make_transport(server, delivered)
    t.close()
    assert server.requests == []


# -- the GET stream ------------------------------------------------------------------------------------


def test_get_stream_opens_after_initialized_and_delivers_server_requests(
    transport: HttpTransport, server: FakeServer, delivered: Delivered
) -> None:
    server.stream = queue.Queue()
    transport.send(out(init_request()))
    transport.send(out(notification("notifications/initialized")))
    roots = request("s1", "roots/list")
    server.stream.put(sse(notification("notifications/tools/list_changed"), roots, ids=["g1", "g2"]))
    messages = delivered.wait(3)
    assert messages[1:] == [notification("notifications/tools/list_changed"), roots]
    get = next(r for r in server.requests if r.method == "GET")
    assert get.headers["accept"] == "text/event-stream"
    assert get.headers["mcp-session-id"] == "session-1"
    assert get.headers["mcp-protocol-version"] == VERSION
    assert "last-event-id" not in get.headers

    server.stream.put(None)  # the server ends the stream: the client reconnects where it left off
    deadline = time.monotonic() + 3
    while len([r for r in server.requests if r.method == "GET"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    again = [r for r in server.requests if r.method == "GET"][1]
    assert again.headers["last-event-id"] == "g2"
    server.stream.put(None)


def test_get_stream_not_offered(transport: HttpTransport, server: FakeServer, delivered: Delivered) -> None:
    handshake(transport, delivered)
    deadline = time.monotonic() + 2
    while not any(r.method == "GET" for r in server.requests) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    assert [r.method for r in server.requests].count("GET") == 1, "405: never asked again"


def test_get_stream_backs_off_while_the_server_is_down(
    server: FakeServer, delivered: Delivered, expect_warnings: list[str]
) -> None:
    attempts: list[float] = []

    def down(req: httpx.Request) -> httpx.Response | None:
        attempts.append(time.monotonic())
        raise httpx.ConnectError("refused", request=req)

    server.on_get = down
    t = make_transport(server, delivered)
    handshake(t, delivered)
    deadline = time.monotonic() + 3
    while len(attempts) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    t.close()
    gaps = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
    assert len(gaps) >= 4
    assert gaps[-1] >= gaps[0], "the delay grows"


# -- auth --------------------------------------------------------------------------------------------


class TokenAuth:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.current = "stale"
        self.challenges: list[int] = []

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.current}"}

    def challenged(self, response: httpx.Response) -> bool:
        self.challenges.append(response.status_code)
        if not self.tokens:
            return False
        self.current = self.tokens.pop(0)
        return True


def test_401_without_an_auth_hook_says_what_to_do(delivered: Delivered, expect_warnings: list[str]) -> None:
    t = make_transport(lambda req: httpx.Response(401, headers={"WWW-Authenticate": "Bearer"}), delivered)
    t.send(out(init_request(1)))
    message = delivered.messages[0]["error"]["message"]
    assert "requires authorization (HTTP 401)" in message and "--header 'Authorization=Bearer" in message


def test_the_auth_hook_adds_headers_and_answers_a_challenge(server: FakeServer, delivered: Delivered) -> None:
    auth = TokenAuth(["fresh"])

    def guarded(req: httpx.Request) -> httpx.Response:
        if req.headers.get("authorization") != "Bearer fresh":
            return httpx.Response(401)
        return server(req)

    t = make_transport(guarded, delivered, auth=auth)
    t.send(out(init_request(1)))
    t.close()
    assert delivered.messages[0]["result"]["protocolVersion"] == VERSION
    assert auth.challenges == [401]


def test_a_401_loop_is_bounded(delivered: Delivered, expect_warnings: list[str]) -> None:
    seen: list[int] = []

    def always(req: httpx.Request) -> httpx.Response:
        seen.append(1)
        return httpx.Response(401)

    auth = TokenAuth(["a", "b", "c", "d", "e"])
    t = make_transport(always, delivered, auth=auth)
    t.send(out(init_request(1)))
    assert len(seen) == MAX_AUTH_RETRIES + 1
    assert "HTTP 401" in delivered.messages[0]["error"]["message"]


# -- redirects ---------------------------------------------------------------------------------------


def test_a_same_origin_307_is_followed_with_the_body_and_headers(server: FakeServer, delivered: Delivered) -> None:
    def moved(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/mcp":
            return httpx.Response(307, headers={"Location": "/v2/mcp"})
        return server(req)

    t = make_transport(moved, delivered, headers={"X-Api-Key": "k"})
    t.send(out(init_request(1)))
    t.close()
    assert delivered.messages[0]["id"] == 1
    followed = server.requests[0]
    assert followed.url == httpx.URL("https://mcp.example.com/v2/mcp")
    assert followed.headers["x-api-key"] == "k" and json.loads(followed.content)["method"] == "initialize"


@pytest.mark.parametrize(
    ("status", "location", "words"),
    [
        (307, "https://evil.example.com/mcp", "another origin"),
        (308, "http://mcp.example.com/mcp", "another origin"),
        (307, "https://mcp.example.com:8443/mcp", "another origin"),
        (302, "/elsewhere", "turn it into a GET"),
    ],
)
def test_redirects_that_would_leak_or_change_the_request_are_refused(
    delivered: Delivered, expect_warnings: list[str], status: int, location: str, words: str
) -> None:
    seen: list[httpx.URL] = []

    def redirect(req: httpx.Request) -> httpx.Response:
        seen.append(req.url)
        return httpx.Response(status, headers={"Location": location})

    t = make_transport(redirect, delivered, headers={"Authorization": "Bearer secret"})
    t.send(out(init_request(1)))
    assert seen == [httpx.URL(URL)], "nothing was sent to the redirect's target"
    message = delivered.messages[0]["error"]["message"]
    assert words in message and "secret" not in message


def test_endless_redirects_end(delivered: Delivered, expect_warnings: list[str]) -> None:
    t = make_transport(lambda req: httpx.Response(308, headers={"Location": "/mcp"}), delivered)
    t.send(out(init_request(1)))
    assert "redirects more than" in delivered.messages[0]["error"]["message"]


def test_a_client_that_follows_redirects_itself_is_refused(delivered: Delivered) -> None:
    from mcpguard.remote.endpoint import check_url

    with pytest.raises(ValueError, match="follows redirects itself"):
        HttpTransport(check_url(URL), delivered, name="x", http=httpx.Client(follow_redirects=True))


# -- the 2024-11-05 HTTP+SSE transport ----------------------------------------------------------------


class LegacyServer:
    """The old transport: GET opens the event stream (first event: endpoint), POSTs get 202."""

    def __init__(self, endpoint: str = "/messages/?session_id=abc") -> None:
        self.endpoint = endpoint
        self.events: queue.Queue[bytes | None] = queue.Queue()
        self.requests: list[httpx.Request] = []
        self.opened = 0

    def __call__(self, req: httpx.Request) -> httpx.Response:
        self.requests.append(req)
        if req.method == "POST" and req.url.path == "/sse":
            return httpx.Response(405)
        if req.method == "GET":
            self.opened += 1
            feed = self.events

            def stream() -> Iterator[bytes]:
                yield b"event: endpoint\ndata: " + self.endpoint.encode() + b"\n\n"
                while (item := feed.get()) is not None:
                    yield item

            return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=stream())
        body = json.loads(req.content)
        if "id" in body and "method" in body:
            result: dict[str, Any] = {"protocolVersion": "2024-11-05"} if body["method"] == "initialize" else {}
            self.events.put(
                b"event: message\ndata: " + encode({"jsonrpc": "2.0", "id": body["id"], "result": result}) + b"\n\n"
            )
        return httpx.Response(202, text="Accepted")


def test_falls_back_to_http_sse_when_the_post_is_refused(delivered: Delivered) -> None:
    legacy = LegacyServer()
    t = make_transport(legacy, delivered, url="https://mcp.example.com/sse")
    t.send(out(init_request(1)))
    delivered.wait(1)
    t.send(out(notification("notifications/initialized")))
    t.send(out(request(2, "tools/list")))
    delivered.wait(2)
    assert [m["id"] for m in delivered.messages] == [1, 2]
    assert t.mode == "legacy"
    posts = [r for r in legacy.requests if r.method == "POST"]
    assert posts[0].url.path == "/sse"
    assert all(r.url == httpx.URL("https://mcp.example.com/messages/?session_id=abc") for r in posts[1:])
    assert all("mcp-session-id" not in r.headers for r in posts)
    legacy.events.put(None)
    t.close()


def test_legacy_stream_loss_answers_what_was_pending(delivered: Delivered, expect_warnings: list[str]) -> None:
    legacy = LegacyServer()
    t = make_transport(legacy, delivered, url="https://mcp.example.com/sse")
    t.send(out(init_request(1)))
    delivered.wait(1)

    real_events = legacy.events
    legacy.events = queue.Queue()  # later requests' answers go nowhere
    t.send(out(request(2, "tools/call")))
    real_events.put(None)  # the stream ends before answering
    messages = delivered.wait(2)
    assert messages[1]["id"] == 2 and "closed its event stream" in messages[1]["error"]["message"]

    legacy.events = queue.Queue()
    t.send(out(request(3, "ping")))  # a new stream, a replayed handshake, then the request
    messages = delivered.wait(3)
    assert messages[2] == {"jsonrpc": "2.0", "id": 3, "result": {}}
    assert legacy.opened == 2
    legacy.events.put(None)
    t.close()


def test_a_legacy_endpoint_on_another_origin_is_refused(delivered: Delivered, expect_warnings: list[str]) -> None:
    legacy = LegacyServer(endpoint="https://collector.evil.example/messages")
    t = make_transport(legacy, delivered, url="https://mcp.example.com/sse")
    t.send(out(init_request(1)))
    assert "another origin" in delivered.messages[0]["error"]["message"]
    assert all(r.url.host == "mcp.example.com" for r in legacy.requests)


def test_no_fallback_when_the_get_is_no_event_stream(delivered: Delivered, expect_warnings: list[str]) -> None:
    t = make_transport(lambda req: httpx.Response(404), delivered)
    t.send(out(init_request(1)))
    assert "answered HTTP 404" in delivered.messages[0]["error"]["message"]


def test_a_refused_initialize_keeps_the_servers_own_error(delivered: Delivered, expect_warnings: list[str]) -> None:
    error = {"code": -32602, "message": "Unsupported protocol version: 1999-01-01"}

    def refuse(req: httpx.Request) -> httpx.Response:
        if req.method == "POST":
            return httpx.Response(400, json={"jsonrpc": "2.0", "id": None, "error": error})
        return httpx.Response(400, text="Missing session ID")  # no old transport here either

    t = make_transport(refuse, delivered)
    t.send(out(init_request(1, version="1999-01-01")))
    assert delivered.messages == [{"jsonrpc": "2.0", "id": 1, "error": error}]


def test_a_server_that_forgets_every_session_is_given_up_on(
    server: FakeServer, delivered: Delivered, expect_warnings: list[str]
) -> None:
    """A load balancer without sticky sessions: every new session is unknown at the next request."""
    holder: list[HttpTransport] = []

    def again(sent: Outgoing) -> bool:
        holder[0].send(Outgoing(sent.data))  # what the bridge does: the guard sends it once more
        return True

    server.on_post = lambda req, b: httpx.Response(404) if b.get("method") == "tools/call" else None
    t = make_transport(server, delivered, reroute=again)
    holder.append(t)
    handshake(t, delivered)
    t.send(out(request(5, "tools/call", {"name": "echo"})))
    t.close()
    (answer,) = delivered.messages
    assert "forgets every session it starts" in answer["error"]["message"]
    assert server.methods().count("initialize") == 1 + transport_module.MAX_RENEWALS


def test_messages_a_client_sends_before_the_initialize_answer_wait_for_its_session(
    server: FakeServer, delivered: Delivered
) -> None:
    slow = threading.Event()

    def delay_initialize(req: httpx.Request, body: Any) -> httpx.Response | None:
        if isinstance(body, dict) and body.get("method") == "initialize":
            slow.wait(5)
        return None

    server.on_post = delay_initialize
    t = make_transport(server, delivered)
    first = threading.Thread(target=t.send, args=(out(init_request()),))
    first.start()
    time.sleep(0.05)
    later = [
        threading.Thread(target=t.send, args=(out(notification("notifications/initialized")),)),
        threading.Thread(target=t.send, args=(out(request(1, "tools/list")),)),
    ]
    for thread in later:
        thread.start()
    time.sleep(0.05)
    slow.set()
    for thread in [first, *later]:
        thread.join(5)
    t.close()
    assert sorted(m["id"] for m in delivered.messages) == [0, 1]
    posts = server.posts()
    assert posts[0].headers.get("mcp-session-id") is None
    assert all(p.headers["mcp-session-id"] == "session-1" for p in posts[1:])


# -- x-mcp-header: tool parameters mirrored into Mcp-Param-* headers (2026-07-28) ---------------------

META = {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}

SQL_TOOL = {
    "name": "execute_sql",
    "inputSchema": {
        "type": "object",
        "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "limit": {"type": "integer", "x-mcp-header": "Limit"},
            "dry": {"type": "boolean", "x-mcp-header": "Dry-Run"},
            "target": {"type": "object", "properties": {"db": {"type": "string", "x-mcp-header": "Db"}}},
            "query": {"type": "string"},
        },
    },
}
BAD_TOOL = {
    "name": "bad",
    "inputSchema": {"type": "object", "properties": {"amount": {"type": "number", "x-mcp-header": "Amount"}}},
}


def stateless(server: FakeServer, *, validate: bool = False) -> None:
    """Make the fake a 2026-07-28 server: no session; optionally it checks ``Mcp-Param-Region`` like a real one."""

    def post(req: httpx.Request, body: Any) -> httpx.Response:
        if validate and body.get("method") == "tools/call":
            region = body["params"].get("arguments", {}).get("region")
            if region is not None and req.headers.get("mcp-param-region") != region:
                error = {"code": -32020, "message": "Header mismatch: Mcp-Param-Region"}
                return httpx.Response(400, json={"jsonrpc": "2.0", "id": body["id"], "error": error})
        return server.answer({"jsonrpc": "2.0", "id": body["id"], "result": server.result(body)})

    server.on_post = post


def call(msg_id: int, name: str, arguments: Any) -> Outgoing:
    return out(request(msg_id, "tools/call", {"name": name, "arguments": arguments, **META}))


def param_headers_of(req: httpx.Request) -> dict[str, str]:
    return {k: v for k, v in req.headers.items() if k.startswith("mcp-param-")}


@pytest.mark.parametrize("mode", ["json", "sse"])
def test_annotated_arguments_are_mirrored_into_headers_and_the_body_is_untouched(
    delivered: Delivered, mode: str
) -> None:
    server = FakeServer(mode=mode, tools=[SQL_TOOL])
    stateless(server)
    t = make_transport(server, delivered)
    t.send(out(request(1, "tools/list", META)))
    assert delivered.messages[0]["result"]["tools"] == [SQL_TOOL]
    arguments = {"region": "us-west1", "limit": 42, "dry": False, "target": {"db": "main"}, "query": "SELECT 1"}
    sent = call(2, "execute_sql", arguments)
    t.send(sent)
    posted = server.posts()[-1]
    assert param_headers_of(posted) == {
        "mcp-param-region": "us-west1",
        "mcp-param-limit": "42",
        "mcp-param-dry-run": "false",
        "mcp-param-db": "main",
    }
    assert posted.headers["mcp-name"] == "execute_sql" and posted.headers["mcp-method"] == "tools/call"
    assert posted.content == sent.data
    assert delivered.messages[-1]["id"] == 2 and "result" in delivered.messages[-1]
    t.close()


def test_values_that_are_not_plain_ascii_and_odd_tool_names_are_base64_encoded(
    server: FakeServer, delivered: Delivered
) -> None:
    tool = {**SQL_TOOL, "name": "données"}
    server.tools = [tool]
    stateless(server)
    t = make_transport(server, delivered)
    t.send(out(request(1, "tools/list", META)))
    t.send(call(2, "données", {"region": "Hello, 世界", "limit": True, "target": {"db": "=?base64?x?="}}))
    posted = server.posts()[-1]
    assert posted.headers["mcp-param-region"] == "=?base64?SGVsbG8sIOS4lueVjA==?="
    assert posted.headers["mcp-param-limit"] == "true"
    assert posted.headers["mcp-param-db"] == "=?base64?PT9iYXNlNjQ/eD89?="
    assert posted.headers["mcp-name"] == "=?base64?ZG9ubsOpZXM=?="
    t.close()


def test_absent_and_null_arguments_send_no_header(server: FakeServer, delivered: Delivered) -> None:
    server.tools = [SQL_TOOL]
    stateless(server)
    t = make_transport(server, delivered)
    t.send(out(request(1, "tools/list", META)))
    t.send(call(2, "execute_sql", {"region": None, "target": {}, "query": "x"}))
    t.send(out(request(3, "tools/call", {"name": "execute_sql", **META})))
    assert [param_headers_of(r) for r in server.posts()[1:]] == [{}, {}]
    assert [m.get("id") for m in delivered.messages] == [1, 2, 3]
    t.close()


def test_a_tool_with_an_invalid_annotation_is_left_out_of_the_list_and_never_called(
    server: FakeServer, delivered: Delivered, expect_warnings: list[str]
) -> None:
    server.tools = [SQL_TOOL, BAD_TOOL]
    stateless(server)
    t = make_transport(server, delivered)
    t.send(out(request(1, "tools/list", META)))
    t.send(out(request(2, "tools/list", META)))
    assert [tool["name"] for tool in delivered.messages[0]["result"]["tools"]] == ["execute_sql"]
    assert len(expect_warnings) == 1  # once per tool and reason, not once per list
    assert "'bad'" in expect_warnings[0] and "type 'number'" in expect_warnings[0]
    t.send(call(3, "bad", {"amount": 1.5}))
    answer = delivered.messages[-1]
    assert answer["id"] == 3 and answer["error"]["code"] == -32602
    assert "definition is invalid" in answer["error"]["message"]
    assert server.methods() == ["tools/list", "tools/list"]  # the call never left
    t.close()


def test_an_argument_no_header_can_carry_refuses_the_call(
    server: FakeServer, delivered: Delivered, expect_warnings: list[str]
) -> None:
    server.tools = [SQL_TOOL]
    stateless(server)
    t = make_transport(server, delivered)
    t.send(out(request(1, "tools/list", META)))
    t.send(call(2, "execute_sql", {"limit": 2**53}))
    answer = delivered.messages[-1]
    assert answer["error"]["code"] == -32602 and "'limit'" in answer["error"]["message"]
    assert server.methods() == ["tools/list"]
    t.close()


def test_an_older_protocol_version_gets_no_param_headers_and_its_list_as_it_came(
    transport: HttpTransport, server: FakeServer, delivered: Delivered
) -> None:
    server.tools = [SQL_TOOL, BAD_TOOL]
    handshake(transport, delivered)
    transport.send(out(request(1, "tools/list")))
    assert delivered.messages[0]["result"]["tools"] == [SQL_TOOL, BAD_TOOL]
    transport.send(out(request(2, "tools/call", {"name": "execute_sql", "arguments": {"region": "eu"}})))
    transport.send(out(request(3, "tools/call", {"name": "bad", "arguments": {"amount": 1.5}})))
    for posted in server.posts()[-2:]:
        assert param_headers_of(posted) == {}
        assert "mcp-name" not in posted.headers and posted.headers["mcp-protocol-version"] == VERSION
    assert [m["id"] for m in delivered.messages[1:]] == [2, 3]


def test_a_tool_list_that_changes_changes_the_headers(
    server: FakeServer, delivered: Delivered, expect_warnings: list[str]
) -> None:
    def tool(annotation: dict[str, Any]) -> dict[str, Any]:
        return {"name": "t", "inputSchema": {"type": "object", "properties": {"where": annotation}}}

    stateless(server)
    t = make_transport(server, delivered)
    seen = []
    for annotation in (
        {"type": "string", "x-mcp-header": "Region"},
        {"type": "string", "x-mcp-header": "Zone"},
        {"type": "string"},
        {"type": "array", "x-mcp-header": "Zone"},
        {"type": "string", "x-mcp-header": "Zone"},
    ):
        server.tools = [tool(annotation)]
        t.send(out(request(1, "tools/list", META)))
        t.send(call(2, "t", {"where": "eu"}))
        seen.append(param_headers_of(server.posts()[-1]) if server.methods()[-1] == "tools/call" else None)
    assert seen == [{"mcp-param-region": "eu"}, {"mcp-param-zone": "eu"}, {}, None, {"mcp-param-zone": "eu"}]
    assert len(expect_warnings) == 2  # the invalid list, and the refused call
    t.close()


def test_a_header_mismatch_reads_the_tool_list_again_and_retries_once(server: FakeServer, delivered: Delivered) -> None:
    server.tools = [SQL_TOOL]
    stateless(server, validate=True)
    t = make_transport(server, delivered)
    sent = call(7, "execute_sql", {"region": "eu"})  # the bridge never saw the list: no headers yet
    t.send(sent)
    assert server.methods() == ["tools/call", "tools/list", "tools/call"]
    relist = server.bodies[1]
    assert relist["params"]["_meta"] == META["_meta"] and str(relist["id"]).startswith("mcpguard-list-")
    assert param_headers_of(server.posts()[-1]) == {"mcp-param-region": "eu"}
    assert server.posts()[-1].content == sent.data
    assert [m["id"] for m in delivered.messages] == [7] and "result" in delivered.messages[0]


def test_a_header_mismatch_that_a_new_list_does_not_explain_is_passed_on(
    server: FakeServer, delivered: Delivered
) -> None:
    server.tools = [{"name": "execute_sql", "inputSchema": {"type": "object"}}]
    stateless(server, validate=True)
    t = make_transport(server, delivered)
    t.send(call(7, "execute_sql", {"region": "eu"}))
    assert server.methods() == ["tools/call", "tools/list"]
    assert delivered.messages == [
        {"jsonrpc": "2.0", "id": 7, "error": {"code": -32020, "message": "Header mismatch: Mcp-Param-Region"}}
    ]
