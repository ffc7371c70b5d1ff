"""Signing in through the tray, and the authorization server pinned with the remote server's identity.

The OAuth side is the fake resource and authorization server of ``test_oauth.py`` (httpx's
MockTransport); the tray's side is the real store: its heartbeat says a tray runs, its ``signins``
table is what the tray offers. The end-to-end path with a real tray, bridge and SDK server is in
``tests/gui/test_signin_tray.py``.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from mcpguard.paths import AppPaths
from mcpguard.pinning.store import Store
from mcpguard.policy import Status
from mcpguard.remote.bridge import AUTHORIZATION_SERVER, StoreBoard, pinned_command, recorded_issuer
from mcpguard.remote.oauth.flow import OAuthAuth
from mcpguard.secrets.memory import MemoryStore
from tests.remote.fakes import FakeServer
from tests.remote.test_bridge import Harness, approve_all, start
from tests.remote.test_oauth import AS, MCP, World, refused

NEW_AS = "https://new-auth.example"
IDENTITY = ["remote", "https://mcp.example:443/mcp"]


class Listener:
    """The loopback listener's part: waits for the fake browser's answer, its time-out, or ``close``."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.redirect_uri = "http://127.0.0.1:33333/callback"
        self.closed = False

    def wait(self, timeout: float) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while not self.world.answer:
            if self.closed:
                raise OSError("the listener was closed")
            if time.monotonic() >= deadline:
                raise TimeoutError("no answer")
            time.sleep(0.002)
        answer, self.world.answer = self.world.answer, {}
        return answer

    def close(self) -> None:
        self.closed = True


def oauth(
    world: World,
    *,
    board: StoreBoard | None = None,
    handler: Any = None,
    env: dict[str, str] | None = None,
    secrets: MemoryStore | None = None,
) -> tuple[OAuthAuth, list[str]]:
    """An OAuthAuth against ``world``; the second value lists the URLs the bridge opened in a browser."""
    opened: list[str] = []

    def browser(url: str) -> bool:
        opened.append(url)
        return world.browser(url)

    keyring = secrets if secrets is not None else MemoryStore()
    auth = OAuthAuth(
        httpx.URL(MCP),
        name="srv",
        store=lambda: keyring,
        http=httpx.Client(transport=httpx.MockTransport(handler or world.handler)),
        open_browser=browser,
        listener=lambda port: Listener(world),
        env=env or {},
        notify=lambda text: None,
        board=board,
    )
    return auth, opened


# -- the tray offers the sign-in -------------------------------------------------------------------


def test_with_a_tray_the_request_is_answered_at_once_and_the_tray_is_asked(store: Store) -> None:
    store.beat()
    world = World()
    auth, opened = oauth(world, board=StoreBoard(store, "test", "srv"))
    began = time.monotonic()
    assert not auth.challenged(refused()), "the request is not held while the user signs in"
    assert time.monotonic() - began < 2
    assert auth.failure == (
        "mcpguard needs you to sign in to srv at auth.example: use the mcpguard tray notification "
        "'Sign in to srv', then retry"
    )
    assert opened == [], "the bridge opens no browser when the tray can offer the sign-in"
    [request] = store.signins()
    assert (request.client, request.server, request.host) == ("test", "srv", "auth.example")
    query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
    assert request.url.startswith(f"{AS}/authorize?") and query["code_challenge_method"] == "S256"
    assert "code_verifier" not in query and "code" not in query
    assert 290 < request.expires - request.created <= 300

    assert not auth.challenged(refused()), "a second request meanwhile gets the same answer"
    assert [r.id for r in store.signins()] == [request.id] and len(world.registrations) == 1

    assert world.browser(request.url)  # the user clicks "Sign in to srv"; the browser is redirected back
    assert auth.wait_signin(5)
    assert store.signins() == [], "the request is withdrawn once the sign-in is done"
    assert auth.headers() == {"Authorization": "Bearer at-1"}
    assert auth.failure is None and auth.signin_left() is None
    assert world.token_forms[-1]["grant_type"] == "authorization_code"
    assert auth.challenged(refused()), "the next request carries the token (sent again at once)"


def test_an_unanswered_sign_in_expires_and_is_withdrawn(store: Store) -> None:
    store.beat()
    world = World()
    auth, opened = oauth(world, board=StoreBoard(store, "test", "srv"), env={"MCPGUARD_SIGNIN_TIMEOUT": "0.2"})
    for _ in range(4):  # expired offers are not sign-ins the server refused: no "giving up" after three
        store.beat()
        assert not auth.challenged(refused())
        assert auth.failure is not None and "needs you to sign in to srv at auth.example" in auth.failure
        assert len(store.signins()) == 1
        assert auth.wait_signin(5)
        assert store.signins() == []
    assert opened == [] and world.token_forms == []


def test_without_a_tray_the_bridge_opens_the_browser_as_before(store: Store) -> None:
    world = World()
    auth, opened = oauth(world, board=StoreBoard(store, "test", "srv"))
    assert not store.tray_alive()
    assert auth.challenged(refused()), "the request waits for the sign-in and is sent again"
    assert len(opened) == 1 and store.signins() == []
    assert auth.headers() == {"Authorization": "Bearer at-1"}


def test_the_get_stream_never_starts_an_offer_in_the_tray(store: Store) -> None:
    """It reconnects by itself for as long as the bridge runs: offers follow the client's requests only."""
    store.beat()
    world = World()
    auth, opened = oauth(world, board=StoreBoard(store, "test", "srv"))
    stream = httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="mcp"'}, request=httpx.Request("GET", MCP))
    assert not auth.challenged(stream)
    assert store.signins() == [] and opened == [] and world.registrations == []
    assert not auth.challenged(refused()) and len(store.signins()) == 1, "the client's next request does"
    assert not auth.challenged(stream) and len(store.signins()) == 1


def test_stopping_the_bridge_withdraws_the_offer(store: Store) -> None:
    store.beat()
    auth, _ = oauth(World(), board=StoreBoard(store, "test", "srv"))
    assert not auth.challenged(refused())
    assert auth.signin_left() is not None and len(store.signins()) == 1
    auth.cancel_signin()
    assert store.signins() == []
    assert auth.wait_signin(5)


# -- the authorization server in the pinned identity --------------------------------------------------


class Protected:
    """FakeServer's MCP endpoint behind a bearer check, with ``world`` as its authorization server.

    Tokens issued before ``valid_from`` are refused: the resource moved to another authorization
    server and no longer takes them.
    """

    def __init__(self, world: World, server: FakeServer) -> None:
        self.world = world
        self.server = server
        self.valid_from = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != "mcp.example" or request.url.path != "/mcp":
            return self.world.handler(request)
        token = request.headers.get("authorization", "")
        number = token.removeprefix("Bearer at-")
        if not (number.isdigit() and int(number) > self.valid_from):
            return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="mcp"'})
        return self.server(request)


def wait_for(predicate: Any, what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_the_authorization_server_is_pinned_and_a_new_one_holds_calls(
    store: Store, app_paths: AppPaths, harnesses: list[Harness]
) -> None:
    world = World()
    protected = Protected(world, FakeServer())
    auth, opened = oauth(world, handler=protected)
    h = start(harnesses, store, protected, name="srv", url=MCP, auth=auth)
    assert "result" in h.handshake()
    assert h.session.command == [*IDENTITY, AUTHORIZATION_SERVER, AS], "pinned before the initialize answer"
    assert h.request(1, "tools/list")["result"]["tools"] == []
    approve_all(app_paths, "srv")
    h.wait_note("notifications/tools/list_changed")
    assert h.request(2, "tools/call", {"name": "echo", "arguments": {"text": "a"}})["result"]["isError"] is False

    world.o["issuer"] = NEW_AS  # the resource moves to another authorization server
    protected.valid_from = world.issued
    answer = h.request(3, "tools/call", {"name": "echo", "arguments": {"text": "b"}})
    assert answer["result"]["isError"] is False, "a call decided before the move is answered"
    assert len(opened) == 2 and opened[-1].startswith(f"{NEW_AS}/authorize?"), "a fresh sign-in at the new server"
    assert h.session.command == [*IDENTITY, AUTHORIZATION_SERVER, NEW_AS]
    held = h.request(4, "tools/call", {"name": "echo", "arguments": {"text": "c"}})
    assert held["result"]["isError"] is True and "holding" in held["result"]["content"][0]["text"]
    assert [b.get("method") for b in protected.server.bodies].count("tools/call") == 2, "never reached the server"
    command = store.item(h.session.server.id, "command", "")
    assert command.status is Status.CHANGED
    assert command.live is not None and command.live.definition["argv"][-1] == NEW_AS

    new_as = [r for r in world.requests if r.url.host == "new-auth.example"]
    assert new_as, "the new authorization server was asked"
    for request in new_as:  # neither the old registration nor the old tokens went there
        seen = request.content.decode() + str(request.url) + request.headers.get("authorization", "")
        assert "dyn-1" not in seen and "rt-1" not in seen and "rt-2" not in seen and "at-1" not in seen

    approve_all(app_paths, "srv")
    wait_for(lambda: h.session.identity_approved, "the new authorization server's approval to reach the bridge")
    assert h.request(5, "tools/call", {"name": "echo", "arguments": {"text": "d"}})["result"]["isError"] is False
    assert h.close() == 0


def test_trust_on_first_use_covers_the_authorization_server_of_the_first_connection(
    store: Store, harnesses: list[Harness]
) -> None:
    store.set_setting("trust_on_first_use", "on")
    world = World()
    protected = Protected(world, FakeServer())
    auth, _ = oauth(world, handler=protected)
    h = start(harnesses, store, protected, name="srv", url=MCP, auth=auth)
    h.handshake()
    assert [t["name"] for t in h.request(1, "tools/list")["result"]["tools"]] == ["echo", "add"]
    command = store.item(h.session.server.id, "command", "")
    assert command.status is Status.APPROVED and command.live is not None
    assert command.live.definition["argv"] == [*IDENTITY, AUTHORIZATION_SERVER, AS]
    assert store.history(command.id)[-1].actor == "trust-on-first-use"
    assert h.request(2, "tools/call", {"name": "echo", "arguments": {}})["result"]["isError"] is False


def test_a_server_that_asks_for_no_sign_in_has_no_authorization_server(store: Store, harnesses: list[Harness]) -> None:
    world = World()
    auth, _ = oauth(world)
    h = start(harnesses, store, FakeServer(), name="srv", url=MCP, auth=auth)
    h.handshake()
    h.request(1, "tools/list")
    assert h.session.command == IDENTITY
    assert world.requests == [], "nothing was discovered"


def test_the_issuer_of_stored_tokens_and_the_recorded_one(store: Store) -> None:
    world = World()
    auth, _ = oauth(world)
    assert auth.stored_issuer() is None
    assert auth.challenged(refused())
    secrets = auth._secret_store()
    again, _ = oauth(world, secrets=secrets)  # a later start: the stored tokens name the issuer
    assert again.stored_issuer() == AS

    server = store.server("test", "srv")
    assert recorded_issuer(store, server.id, IDENTITY) is None
    store.observe(server.id, "command", {"": {"argv": pinned_command(IDENTITY, None, AS)}})
    assert recorded_issuer(store, server.id, IDENTITY) == AS
    assert recorded_issuer(store, server.id, ["remote", "https://other.example:443/mcp"]) is None
    trusted = pinned_command(IDENTITY, "https://t.example")
    assert recorded_issuer(store, server.id, trusted) is None, "only for the very same URL and options"


@pytest.mark.parametrize("trust", [None, "https://t.example"])
def test_the_pinned_command_names_the_authorization_server_last(trust: str | None) -> None:
    command = pinned_command(IDENTITY, trust, AS)
    assert command[-2:] == [AUTHORIZATION_SERVER, AS]
    assert command[: len(IDENTITY)] == IDENTITY
    assert pinned_command(IDENTITY, trust) == command[:-2]
