"""OAuth for the remote bridge against a fake resource and authorization server in httpx.MockTransport.

The fake browser plays the authorization server's ``/authorize`` (records the query, answers with
a code, the state and, where set, ``iss``); the fake listener hands that answer to the flow. No
sockets, no keyring: tokens go to a MemoryStore.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from mcpguard.remote.oauth import discovery
from mcpguard.remote.oauth.discovery import OAuthError, as_metadata_urls, parse_challenge, prm_urls
from mcpguard.remote.oauth.flow import OAuthAuth, logout
from mcpguard.remote.oauth.tokens import check_access_token, key, load_tokens
from mcpguard.secrets.memory import MemoryStore

ORIGIN = "https://mcp.example"
MCP = f"{ORIGIN}/mcp"
AS = "https://auth.example"


class World:
    """A protected resource at mcp.example and its authorization server at auth.example."""

    def __init__(self, **options: Any) -> None:
        self.o: dict[str, Any] = {
            "issuer": AS,
            "published_issuer": None,
            "prm": "path",  # path, root, none
            "resource": MCP,
            "s256": True,
            "iss_supported": False,
            "iss_sent": "right",  # right, wrong, none
            "registration": True,
            "auth_methods": ["none", "client_secret_basic"],
            "cimd": False,
            "jwt_aud": None,
            "scopes_supported": ["read", "write"],
            "revocation": True,
        }
        self.o.update(options)
        self.requests: list[httpx.Request] = []
        self.authorize_queries: list[dict[str, str]] = []
        self.token_forms: list[dict[str, str]] = []
        self.registrations: list[dict[str, Any]] = []
        self.revoked: list[str] = []
        self.codes: dict[str, dict[str, str]] = {}
        self.issued = 0
        self.answer: dict[str, str] = {}

    # the authorization server and the resource, as one MockTransport handler
    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        url = str(request.url.copy_with(query=None))
        o = self.o
        issuer = o["issuer"]
        if url == f"{ORIGIN}/.well-known/oauth-protected-resource/mcp" and o["prm"] == "path":
            return self._prm()
        if url == f"{ORIGIN}/.well-known/oauth-protected-resource" and o["prm"] == "root":
            return self._prm()
        if url in as_metadata_urls(issuer)[:1]:
            meta: dict[str, Any] = {
                "issuer": o["published_issuer"] or issuer,
                "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token",
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"] if o["s256"] else ["plain"],
                "token_endpoint_auth_methods_supported": o["auth_methods"],
                "scopes_supported": o["scopes_supported"],
            }
            if o["registration"]:
                meta["registration_endpoint"] = f"{issuer}/register"
            if o["iss_supported"]:
                meta["authorization_response_iss_parameter_supported"] = True
            if o["cimd"]:
                meta["client_id_metadata_document_supported"] = True
            if o["revocation"]:
                meta["revocation_endpoint"] = f"{issuer}/revoke"
            return httpx.Response(200, json=meta)
        if url == f"{issuer}/register":
            body = json.loads(request.content)
            self.registrations.append(body)
            return httpx.Response(201, json={**body, "client_id": f"dyn-{len(self.registrations)}"})
        if url == f"{issuer}/token":
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            if "authorization" in request.headers:
                form["_basic"] = base64.b64decode(request.headers["authorization"].split()[1]).decode()
            self.token_forms.append(form)
            if form["grant_type"] == "authorization_code":
                grant = self.codes.pop(form["code"], None)
                if grant is None:
                    return httpx.Response(400, json={"error": "invalid_grant"})
                digest = hashlib.sha256(form["code_verifier"].encode()).digest()
                if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["code_challenge"]:
                    return httpx.Response(400, json={"error": "invalid_grant"})
            elif form["grant_type"] == "refresh_token" and not form["refresh_token"].startswith("rt-"):
                return httpx.Response(400, json={"error": "invalid_grant"})
            self.issued += 1
            access = f"at-{self.issued}"
            if o["jwt_aud"] is not None:
                now = int(time.time())
                claims = {"aud": o["jwt_aud"], "iss": issuer, "exp": now + 600, "nbf": now - 5, "sub": "u"}
                access = jwt.encode(claims, "k" * 32, algorithm="HS256")
            return httpx.Response(
                200,
                json={
                    "access_token": access,
                    "token_type": "Bearer",
                    "expires_in": 3600,
                    "refresh_token": f"rt-{self.issued}",
                },
            )
        if url == f"{issuer}/revoke":
            self.revoked.append(parse_qs(request.content.decode())["token"][0])
            return httpx.Response(200)
        return httpx.Response(404)

    def _prm(self) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "resource": self.o["resource"],
                "authorization_servers": [self.o["issuer"]],
                "scopes_supported": ["read"],
            },
        )

    def browser(self, url: str) -> bool:
        """The user signs in: /authorize answers with a code, the state and maybe iss."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        self.authorize_queries.append(query)
        code = f"code-{len(self.authorize_queries)}"
        self.codes[code] = query
        answer = {"code": code, "state": query["state"]}
        if self.o["iss_sent"] == "right":
            answer["iss"] = self.o["published_issuer"] or self.o["issuer"]
        elif self.o["iss_sent"] == "wrong":
            answer["iss"] = "https://evil.example"
        self.answer = answer
        return True


class FakeListener:
    def __init__(self, world: World) -> None:
        self.world = world
        self.redirect_uri = "http://127.0.0.1:33333/callback"

    def wait(self, timeout: float) -> dict[str, str]:
        deadline = time.monotonic() + 5
        while not self.world.answer and time.monotonic() < deadline:  # the browser runs on its own thread
            time.sleep(0.001)
        answer, self.world.answer = self.world.answer, {}
        return answer

    def close(self) -> None:
        pass


def make(world: World, store: MemoryStore | None = None, **kwargs: Any) -> tuple[OAuthAuth, MemoryStore]:
    secrets = store if store is not None else MemoryStore()
    http = httpx.Client(transport=httpx.MockTransport(world.handler))
    auth = OAuthAuth(
        httpx.URL(MCP),
        name="srv",
        store=lambda: secrets,
        http=http,
        open_browser=world.browser,
        listener=lambda port: FakeListener(world),
        env=kwargs.pop("env", {}),
        notify=lambda text: None,
        **kwargs,
    )
    return auth, secrets


def refused(
    status: int = 401, challenge: str | None = 'Bearer realm="mcp"', token: str | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = httpx.Request("POST", MCP, headers=headers)
    return httpx.Response(status, headers={"WWW-Authenticate": challenge} if challenge else {}, request=request)


# -- discovery ------------------------------------------------------------------------------------


def test_well_known_orders_are_the_specifications() -> None:
    assert prm_urls(httpx.URL("https://mcp.example/a/mcp")) == [
        "https://mcp.example/.well-known/oauth-protected-resource/a/mcp",
        "https://mcp.example/.well-known/oauth-protected-resource",
    ]
    assert as_metadata_urls("https://auth.example/tenant1") == [
        "https://auth.example/.well-known/oauth-authorization-server/tenant1",
        "https://auth.example/.well-known/openid-configuration/tenant1",
        "https://auth.example/tenant1/.well-known/openid-configuration",
    ]
    assert as_metadata_urls("https://auth.example") == [
        "https://auth.example/.well-known/oauth-authorization-server",
        "https://auth.example/.well-known/openid-configuration",
    ]


def test_challenge_parameters_are_read_from_the_bearer_challenge() -> None:
    got = parse_challenge(
        'Basic realm="x", Bearer error="insufficient_scope", scope="a b", resource_metadata="https://m/x"'
    )
    assert got["error"] == "insufficient_scope" and got["scope"] == "a b" and got["resource_metadata"] == "https://m/x"
    assert parse_challenge(None) == {}


def test_discovery_tries_the_header_then_path_aware_then_root() -> None:
    world = World(prm="root")
    auth, _ = make(world)
    header = 'Bearer resource_metadata="https://mcp.example/meta-missing"'
    assert auth.challenged(refused(challenge=header))
    urls = [str(r.url) for r in world.requests if r.method == "GET"]
    assert urls[:3] == [
        "https://mcp.example/meta-missing",
        "https://mcp.example/.well-known/oauth-protected-resource/mcp",
        "https://mcp.example/.well-known/oauth-protected-resource",
    ]
    assert urls[3] == "https://auth.example/.well-known/oauth-authorization-server"


def test_as_metadata_falls_back_to_openid_discovery_in_order() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if str(request.url) == "https://auth.example/t/.well-known/openid-configuration":
            return httpx.Response(
                200, json={"issuer": "https://auth.example/t", "token_endpoint": "https://auth.example/t/token"}
            )
        return httpx.Response(404)

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        meta = discovery.fetch_server_metadata(http, "https://auth.example/t")
    assert meta is not None and meta.issuer == "https://auth.example/t"
    assert seen == as_metadata_urls("https://auth.example/t")


def test_an_issuer_mismatch_is_refused_unless_trusted(expect_warnings: list[str]) -> None:
    world = World(published_issuer="https://other.example")
    auth, store = make(world)
    assert not auth.challenged(refused())
    assert auth.failure is not None and "--trust-issuer https://other.example" in auth.failure
    assert world.authorize_queries == [] and store.names() == []
    trusted, _ = make(World(published_issuer="https://other.example"), trust_issuer="https://other.example")
    assert trusted.challenged(refused())


def test_metadata_for_another_resource_is_refused(expect_warnings: list[str]) -> None:
    auth, _ = make(World(resource="https://elsewhere.example/mcp"))
    assert not auth.challenged(refused())
    assert auth.failure is not None and "not this server" in auth.failure


def test_plain_http_metadata_is_refused_off_loopback() -> None:
    with pytest.raises(OAuthError, match="https is required"):
        discovery.check_secure("http://auth.example/token", "token endpoint")
    assert discovery.check_secure("http://127.0.0.1:9/x", "token endpoint").host == "127.0.0.1"


# -- the authorization code flow ------------------------------------------------------------------


def test_sign_in_uses_pkce_state_resource_and_registers_a_native_client() -> None:
    world = World()
    auth, store = make(world)
    assert auth.headers() == {}
    assert auth.challenged(refused())
    query = world.authorize_queries[0]
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["resource"] == MCP and query["scope"] == "read"
    assert query["redirect_uri"] == "http://127.0.0.1:33333/callback" and query["client_id"] == "dyn-1"
    reg = world.registrations[0]
    assert reg["application_type"] == "native" and reg["redirect_uris"] == [query["redirect_uri"]]
    token_form = world.token_forms[0]
    assert token_form["resource"] == MCP and token_form["client_id"] == "dyn-1" and "code_verifier" in token_form
    assert auth.headers() == {"Authorization": "Bearer at-1"}
    stored = load_tokens(store, "srv")
    assert stored is not None and stored.access_token == "at-1" and stored.issuer == AS
    assert set(store.names()) == {key("srv", "OAUTH_TOKENS"), key("srv", "OAUTH_CLIENT")}


def test_scope_is_omitted_when_nobody_names_one() -> None:
    world = World()
    world._prm = lambda: httpx.Response(200, json={"resource": MCP, "authorization_servers": [AS]})  # type: ignore[method-assign]
    auth, _ = make(world)
    assert auth.challenged(refused(challenge="Bearer"))
    assert "scope" not in world.authorize_queries[0]


def test_scope_from_the_challenge_wins() -> None:
    world = World()
    auth, _ = make(world)
    assert auth.challenged(refused(challenge='Bearer scope="files:read"'))
    assert world.authorize_queries[0]["scope"] == "files:read"


def test_a_server_without_s256_is_refused(expect_warnings: list[str]) -> None:
    world = World(s256=False)
    auth, _ = make(world)
    assert not auth.challenged(refused())
    assert auth.failure is not None and "S256" in auth.failure and world.authorize_queries == []


def test_a_wrong_state_is_refused(expect_warnings: list[str]) -> None:
    world = World()
    original = world.browser

    def browser(url: str) -> bool:
        original(url)
        world.answer["state"] = "forged"
        return True

    world.browser = browser  # type: ignore[method-assign]
    auth, _ = make(world)
    assert not auth.challenged(refused())
    assert auth.failure is not None and "state" in auth.failure and world.token_forms == []


@pytest.mark.parametrize(("sent", "ok"), [("right", True), ("wrong", False), ("none", False)])
def test_iss_in_the_answer_is_checked_where_advertised(sent: str, ok: bool, expect_warnings: list[str]) -> None:
    world = World(iss_supported=True, iss_sent=sent)
    auth, _ = make(world)
    assert auth.challenged(refused()) is ok
    if not ok:
        assert auth.failure is not None and "iss" in auth.failure


def test_a_wrong_iss_is_refused_even_when_not_advertised(expect_warnings: list[str]) -> None:
    auth, _ = make(World(iss_sent="wrong"))
    assert not auth.challenged(refused())


def test_pre_registered_client_uses_basic_auth_with_the_secret_from_the_environment() -> None:
    world = World(auth_methods=["client_secret_basic", "client_secret_post"])
    auth, _ = make(world, client_id="pre", env={"MCPGUARD_CLIENT_SECRET": "s3cret"})
    assert auth.challenged(refused())
    assert world.registrations == [] and world.authorize_queries[0]["client_id"] == "pre"
    assert world.token_forms[0]["_basic"] == "pre:s3cret" and "client_secret" not in world.token_forms[0]


def test_pre_registered_client_uses_post_when_only_post_is_allowed() -> None:
    world = World(auth_methods=["client_secret_post"])
    auth, _ = make(world, client_id="pre", env={"MCPGUARD_CLIENT_SECRET": "s3cret"})
    assert auth.challenged(refused())
    assert world.token_forms[0]["client_secret"] == "s3cret" and "_basic" not in world.token_forms[0]


def test_client_metadata_document_is_used_where_supported() -> None:
    world = World(cimd=True)
    auth, _ = make(world, client_metadata_url="https://app.example/client.json")
    assert auth.challenged(refused())
    assert world.registrations == [] and world.authorize_queries[0]["client_id"] == "https://app.example/client.json"
    without, _ = make(World(), client_metadata_url="https://app.example/client.json")
    assert without.challenged(refused())  # not supported there: dynamic registration instead


def test_credentials_are_bound_to_the_issuer_that_issued_them() -> None:
    world = World()
    auth, store = make(world)
    assert auth.challenged(refused())
    moved = World(issuer="https://new-auth.example")
    again, _ = make(moved, store=store)
    assert again.challenged(refused(token="at-1"))
    assert moved.registrations and moved.authorize_queries[0]["client_id"] == "dyn-1"  # registered anew there
    assert all("rt-1" not in r.content.decode() for r in moved.requests)  # the old refresh token never went there


# -- refresh, step-up, tokens ----------------------------------------------------------------------


def test_a_refused_token_is_refreshed_before_asking_the_user_again() -> None:
    world = World()
    auth, store = make(world)
    assert auth.challenged(refused())
    assert auth.challenged(refused(token="at-1"))
    assert len(world.authorize_queries) == 1
    assert world.token_forms[-1]["grant_type"] == "refresh_token" and world.token_forms[-1]["resource"] == MCP
    assert auth.headers() == {"Authorization": "Bearer at-2"}


def test_an_expired_token_in_the_keyring_is_refreshed_without_a_browser() -> None:
    world = World()
    auth, store = make(world)
    assert auth.challenged(refused())
    data = json.loads(store.get(key("srv", "OAUTH_TOKENS")) or "{}")
    data["expires_at"] = time.time() - 10
    store.set(key("srv", "OAUTH_TOKENS"), json.dumps(data))
    later, _ = make(world, store=store)
    assert later.headers() == {"Authorization": "Bearer at-2"}
    assert len(world.authorize_queries) == 1


def test_a_token_replaced_by_another_thread_is_simply_sent_again() -> None:
    world = World()
    auth, _ = make(world)
    assert auth.challenged(refused())
    assert auth.challenged(refused(token="an-old-one"))
    assert len(world.token_forms) == 1


def test_step_up_on_insufficient_scope_is_bounded(expect_warnings: list[str]) -> None:
    world = World()
    auth, _ = make(world)
    assert auth.challenged(refused())
    step = 'Bearer error="insufficient_scope", scope="write"'
    assert auth.challenged(refused(403, step, token="at-1"))
    assert set(world.authorize_queries[1]["scope"].split()) == {"read", "write"}
    results = [auth.challenged(refused(403, step, token=auth.headers()["Authorization"][7:])) for _ in range(5)]
    assert results.count(False) >= 1 and auth.failure is not None
    assert not auth.challenged(refused(403, None, token=auth.headers()["Authorization"][7:]))


def test_a_jwt_for_another_audience_is_refused(expect_warnings: list[str]) -> None:
    world = World(jwt_aud="https://other.example/mcp")
    auth, store = make(world)
    assert not auth.challenged(refused())
    assert auth.failure is not None and "not for this server" in auth.failure
    assert auth.headers() == {} and load_tokens(store, "srv") is None


def test_a_jwt_for_this_server_is_accepted() -> None:
    auth, _ = make(World(jwt_aud=MCP))
    assert auth.challenged(refused())


def test_jwt_claims_expiry_and_issuer() -> None:
    now = int(time.time())
    expired = jwt.encode({"aud": MCP, "iss": AS, "exp": now - 3600}, "k" * 32, algorithm="HS256")
    with pytest.raises(OAuthError, match="expired"):
        check_access_token(expired, audience=MCP, issuer=AS)
    foreign = jwt.encode({"aud": MCP, "iss": "https://evil.example"}, "k" * 32, algorithm="HS256")
    with pytest.raises(OAuthError, match="issued by"):
        check_access_token(foreign, audience=MCP, issuer=AS)
    check_access_token("opaque-token-value", audience=MCP, issuer=AS)


def test_logout_revokes_and_deletes() -> None:
    world = World()
    auth, store = make(world)
    assert auth.challenged(refused())
    with httpx.Client(transport=httpx.MockTransport(world.handler)) as http:
        said = logout("srv", store, http, env={})
    assert "revoked" in said and world.revoked == ["rt-1", "at-1"]
    assert load_tokens(store, "srv") is None
    assert "no stored sign-in" in logout("srv", store, env={})


# -- wiring ---------------------------------------------------------------------------------------


def test_trust_issuer_is_part_of_the_pinned_identity() -> None:
    from mcpguard.remote.bridge import pinned_command

    identity = ["remote", "https://mcp.example:443/mcp"]
    assert pinned_command(identity, None) == identity
    assert pinned_command(identity, "https://other.example") == [*identity, "trust-issuer", "https://other.example"]


def test_cli_refuses_bad_oauth_options_before_sending_anything(capsys: pytest.CaptureFixture[str]) -> None:
    from mcpguard.cli import main

    assert main(["remote", "https://mcp.example/mcp", "--name", "x", "--trust-issuer", "http://evil.example"]) == 2
    assert "https is required" in capsys.readouterr().err
    assert main(["remote", "https://mcp.example/mcp", "--name", "x", "--client-metadata-url", "ftp://a/b"]) == 2
    assert main(["remote", "https://mcp.example/mcp"]) == 2
    assert main(["remote", "logout"]) == 2
    assert "usage: mcpguard remote logout NAME" in capsys.readouterr().err
    header = ["--header", "Authorization=Bearer abc", "--client-id", "c"]
    assert main(["remote", "https://mcp.example/mcp", "--name", "x", *header]) == 2


def test_issuers_are_compared_without_normalisation(expect_warnings: list[str]) -> None:
    auth, _ = make(World(published_issuer=AS + "/"))
    assert not auth.challenged(refused())
    assert auth.failure is not None and "RFC 8414" in auth.failure
    world = World(iss_supported=True)
    original = world.browser

    def browser(url: str) -> bool:
        original(url)
        world.answer["iss"] = AS + "/"
        return True

    world.browser = browser  # type: ignore[method-assign]
    slashed, _ = make(world)
    assert not slashed.challenged(refused())
    assert slashed.failure is not None and "RFC 9207" in slashed.failure


def test_a_resource_that_moved_to_another_authorization_server_is_followed() -> None:
    world = World()
    auth, _ = make(world)
    assert auth.challenged(refused())
    world.o["issuer"] = "https://new-auth.example"  # the resource metadata now names another server
    assert auth.challenged(refused(token="at-1"))
    assert len(world.registrations) == 2 and world.authorize_queries[-1]["client_id"] == "dyn-2"
    assert world.token_forms[-1]["grant_type"] == "authorization_code"  # no refresh token sent to the new one


def test_the_client_is_told_why_signing_in_failed(expect_warnings: list[str]) -> None:
    from mcpguard.remote.transport import _auth_error

    auth, _ = make(World(s256=False))
    response = refused()
    assert not auth.challenged(response)
    error = _auth_error(response, "srv", auth)
    assert "signing in to the remote server 'srv' failed" in str(error) and "S256" in str(error)


def test_a_jwt_signature_is_verified_against_the_published_keys() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    key_pair = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key_pair.public_key()))
    jwks = {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}
    claims = {"aud": MCP, "iss": AS, "exp": int(time.time()) + 600}
    good = jwt.encode(claims, key_pair, algorithm="RS256", headers={"kid": "k1"})
    check_access_token(good, audience=MCP, issuer=AS, jwks=jwks)
    forged = jwt.encode(claims, other, algorithm="RS256", headers={"kid": "k1"})
    with pytest.raises(OAuthError, match="signature"):
        check_access_token(forged, audience=MCP, issuer=AS, jwks=jwks)
    unknown = jwt.encode(claims, key_pair, algorithm="RS256", headers={"kid": "k9"})
    with pytest.raises(OAuthError, match="does not publish"):
        check_access_token(unknown, audience=MCP, issuer=AS, jwks=jwks)


def test_the_loopback_listener_takes_one_redirect_and_times_out() -> None:
    import threading

    from mcpguard.remote.oauth.listener import LoopbackListener

    listener = LoopbackListener()
    assert listener.redirect_uri.startswith("http://127.0.0.1:") and listener.redirect_uri.endswith("/callback")

    def browse() -> None:
        with httpx.Client(trust_env=False) as client:
            assert client.get(listener.redirect_uri.replace("/callback", "/favicon.ico")).status_code == 404
            page = client.get(listener.redirect_uri + "?code=c1&state=s1")
            assert page.status_code == 200 and b"c1" not in page.content

    thread = threading.Thread(target=browse)
    thread.start()
    assert listener.wait(10) == {"code": "c1", "state": "s1"}
    thread.join(10)
    with pytest.raises(httpx.ConnectError):  # one-shot: the port is closed afterwards
        httpx.get(listener.redirect_uri, trust_env=False)
    idle = LoopbackListener()
    with pytest.raises(TimeoutError):
        idle.wait(0.2)
