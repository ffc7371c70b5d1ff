"""The OAuth 2.1 authorization of the MCP specification, behind the transport's :class:`Auth` seam.

On a 401 the bridge discovers the authorization server (:mod:`.discovery`), refreshes the token if
it holds a refresh token from that very server, and otherwise signs the user in: authorization code
with PKCE S256, a random ``state``, the RFC 8707 ``resource`` exactly as the server publishes it,
the browser opened with :mod:`webbrowser` (so ``BROWSER`` is honoured) and the redirect caught by a
one-shot listener on 127.0.0.1. A 403 ``insufficient_scope`` asks again for the wider scope, a
bounded number of times. Tokens go to the keyring only (:mod:`.tokens`); the transport sends them to
the MCP endpoint's origin only. Everything that fails ends in :attr:`OAuthAuth.failure`, a sentence
the transport hands the client instead of its generic 401 text, so the client never waits for nothing.

One lock serialises it all: a thread whose request was refused with a token another thread has
meanwhile replaced simply sends it again. Without a tray, requests wait while the user signs in in
the browser the bridge opened. With a tray running (a :class:`SignInBoard` that says so), the bridge
opens nothing itself: it posts the sign-in to the board, where the tray offers "Sign in to NAME",
answers the request at once with a sentence saying so, and its loopback listener waits on a thread
of its own; the redirect's code is exchanged there, and the client's next request carries the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import sys
import threading
import time
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from mcpguard import logs
from mcpguard.remote.oauth.discovery import (
    OAuthError,
    ProtectedResource,
    ServerMetadata,
    check_secure,
    discover,
    parse_challenge,
    resource_covers,
    same_identifier,
)
from mcpguard.remote.oauth.tokens import (
    CLIENT_SECRET,
    TOKENS,
    ClientInfo,
    TokenSet,
    check_access_token,
    fetch_jwks,
    key,
    load_client,
    load_tokens,
    save_client,
    save_tokens,
)
from mcpguard.secrets.base import SecretsError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import httpx

    from mcpguard.secrets.base import SecretStore

log = logs.get(__name__)

SECRET_ENV = "MCPGUARD_CLIENT_SECRET"
TIMEOUT_ENV = "MCPGUARD_SIGNIN_TIMEOUT"
DEFAULT_SIGNIN_TIMEOUT = 300.0
MAX_SIGNINS = 3
"""Interactive sign-ins per :data:`WINDOW`: a server that refuses every fresh token is not a reason to
open the browser forever (a bridge that runs for weeks may still sign in again later)."""
MAX_STEP_UPS = 3
"""Scope step-ups (403 insufficient_scope) per :data:`WINDOW`."""
WINDOW = 600.0


class SignInBoard(Protocol):
    """Where a bridge asks the tray to offer a sign-in (the store's ``signins`` table in the bridge)."""

    def tray_alive(self) -> bool:
        """True when a tray runs that can offer the sign-in to the user."""
        ...

    def post(self, host: str, url: str, expires: float) -> int:
        """Offer the sign-in at ``url`` (on ``host``) until ``expires``; returns the request's id."""
        ...

    def drop(self, request_id: int) -> None:
        """Stop offering it: done, failed or given up."""
        ...


class Listener(Protocol):
    """What the flow needs of the redirect listener (a fake one in unit tests)."""

    redirect_uri: str

    def wait(self, timeout: float) -> dict[str, str]: ...

    def close(self) -> None: ...


def _default_listener(port: int) -> Listener:
    from mcpguard.remote.oauth.listener import LoopbackListener

    return LoopbackListener(port)


def _default_browser(url: str) -> bool:
    import webbrowser

    try:
        return webbrowser.open(url)
    except Exception:
        return False


class _PendingSignIn:
    """A sign-in the tray offers while the loopback listener waits, with what the code exchange needs."""

    def __init__(
        self,
        listener: Listener,
        host: str,
        state: str,
        verifier: str,
        client: ClientInfo,
        prm: ProtectedResource,
        metadata: ServerMetadata,
        scope: str | None,
        timeout: float,
        spent: float | None,
    ) -> None:
        self.listener = listener
        self.host = host
        self.state = state
        self.verifier = verifier
        self.client = client
        self.prm = prm
        self.metadata = metadata
        self.scope = scope
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.spent = spent
        self.request_id: int | None = None
        self.done = threading.Event()


def signin_sentence(name: str, host: str) -> str:
    """What the client is told while a sign-in waits in the tray: who, where, and what to do."""
    return (
        f"mcpguard needs you to sign in to {name} at {host}: use the mcpguard tray notification "
        f"'Sign in to {name}', then retry"
    )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pkce_pair() -> tuple[str, str]:
    """A code verifier (RFC 7636: 43 to 128 unreserved characters) and its S256 challenge."""
    verifier = _b64url(secrets.token_bytes(48))
    return verifier, _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def choose_auth_method(metadata: ServerMetadata, has_secret: bool) -> str:
    """How the client authenticates at the token endpoint, as the metadata allows (RFC 8414 default: basic)."""
    if not has_secret:
        return "none"
    supported = metadata.strings("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    for method in ("client_secret_basic", "client_secret_post"):
        if method in supported:
            return method
    return "client_secret_basic"


def _merge_scopes(*scopes: str | None) -> str | None:
    seen: dict[str, None] = {}
    for scope in scopes:
        for item in (scope or "").split():
            seen.setdefault(item, None)
    return " ".join(seen) or None


class OAuthAuth:
    """Signs in to one remote MCP server and keeps its tokens; the transport's ``auth``.

    Args:
        endpoint: The MCP endpoint (``httpx.URL``).
        name: The server's name; keyring items are ``remote/<name>/...``.
        store: Opens the secret store (the keyring) the first time it is needed.
        scope: ``--scope``: asked for instead of what the server suggests.
        client_id: ``--client-id``: a pre-registered client (secret from ``MCPGUARD_CLIENT_SECRET``
            or the keyring item ``remote/<name>/CLIENT_SECRET``).
        client_metadata_url: ``--client-metadata-url``: a Client ID Metadata Document URL, used
            where the authorization server supports them.
        trust_issuer: ``--trust-issuer``: an issuer accepted although the metadata was found under
            another identifier.
        http: The client for metadata, registration and token requests (tests pass a mock).
        board: Where a sign-in is offered to the user when a tray runs; None: always open the browser.
        on_issuer: Told the issuer of the authorization server whenever it is learned (from the
            stored tokens or from discovery): the bridge pins it with the server's identity.
        open_browser, listener, env, notify: Replaced in tests.
    """

    def __init__(
        self,
        endpoint: httpx.URL,
        *,
        name: str,
        store: Callable[[], SecretStore],
        scope: str | None = None,
        client_id: str | None = None,
        client_metadata_url: str | None = None,
        trust_issuer: str | None = None,
        http: httpx.Client | None = None,
        open_browser: Callable[[str], bool] | None = None,
        listener: Callable[[int], Listener] | None = None,
        env: Mapping[str, str] | None = None,
        notify: Callable[[str], None] | None = None,
        board: SignInBoard | None = None,
        on_issuer: Callable[[str], None] | None = None,
    ) -> None:
        self.endpoint = endpoint.copy_with(query=None, fragment=None)
        self.name = name
        self._store_factory = store
        self._store: SecretStore | None = None
        self.user_scope = scope
        self.client_id = client_id
        self.client_metadata_url = client_metadata_url
        self.trust_issuer = trust_issuer
        self._http = http
        self._open_browser = open_browser or _default_browser
        self._listener = listener or _default_listener
        self._env = env if env is not None else os.environ
        self._notify = notify or (lambda text: print(f"mcpguard: {text}", file=sys.stderr, flush=True))
        self._lock = threading.RLock()
        self._tokens: TokenSet | None = None
        self._registered: ClientInfo | None = None
        self._loaded = False
        self._discovered: tuple[ProtectedResource, ServerMetadata] | None = None
        self._discovered_at: str | None = None
        self._requested_scope: str | None = None
        self._signins: list[float] = []
        self._step_ups: list[float] = []
        self._board = board
        self.on_issuer = on_issuer
        self._issuer: str | None = None
        self._pending: _PendingSignIn | None = None
        self.failure: str | None = None
        """Why the last challenge could not be answered: the transport's error text for the client."""

    # -- the Auth seam ----------------------------------------------------------------------------

    def headers(self) -> dict[str, str]:
        with self._lock:
            tokens = self._current()
            return {"Authorization": f"Bearer {tokens.access_token}"} if tokens is not None else {}

    def challenged(self, response: httpx.Response) -> bool:
        with self._lock:
            try:
                return self._answer(response)
            except (OAuthError, SecretsError) as exc:
                self.failure = f"signing in to the remote server {self.name!r} failed: {exc}"
                log.warning("%s", self.failure)
                return False

    # -- the work ---------------------------------------------------------------------------------

    def _answer(self, response: httpx.Response) -> bool:
        sent = response.request.headers.get("authorization") if _has_request(response) else None
        current = self._current()
        if current is not None and sent != f"Bearer {current.access_token}":
            return True  # another thread replaced the token while this request was refused
        challenge = parse_challenge(response.headers.get("www-authenticate"))
        if self._pending is not None:  # the user has yet to sign in through the tray
            self.failure = signin_sentence(self.name, self._pending.host)
            return False
        if response.status_code == 403:
            if challenge.get("error") != "insufficient_scope":
                self.failure = f"the remote server {self.name!r} refused the request (HTTP 403 Forbidden)"
                return False
            if not _spend(self._step_ups, MAX_STEP_UPS):
                raise OAuthError(f"the server still asks for more scope after {MAX_STEP_UPS} step-ups")
            scope = _merge_scopes(self._requested_scope, current.scope if current else None, challenge.get("scope"))
            return self._authorize(challenge, scope, response)
        self._discovered = None  # a 401 may mean the resource moved to another authorization server: look again
        prm, metadata = self._discover(challenge)
        if current is not None and current.refresh_token and same_identifier(current.issuer, metadata.issuer):
            try:
                self._refresh(current, prm, metadata)
                return True
            except OAuthError as exc:
                log.info("refreshing the token failed (%s); signing in again", exc)
        return self._authorize(challenge, None, response)

    def _secret_store(self) -> SecretStore:
        if self._store is None:
            self._store = self._store_factory()
        return self._store

    def stored_issuer(self) -> str | None:
        """The issuer of the stored tokens (read from the keyring if its index lists them), else None.

        The bridge asks before it pins the server's identity, so that a server it signed in to
        before is pinned with its authorization server from the first message on.
        """
        with self._lock:
            self._load()
            return self._tokens.issuer if self._tokens is not None else None

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        try:
            stored = load_tokens(self._secret_store(), self.name)
        except SecretsError as exc:
            log.warning("could not read the stored token of %r: %s", self.name, exc)
            stored = None
        if stored is not None and stored.resource and not resource_covers(stored.resource, self.endpoint):
            stored = None  # a token for another resource is never sent here
        self._tokens = stored
        if stored is not None:
            self._learned(stored.issuer)

    def _learned(self, issuer: str) -> None:
        """Tell the bridge which authorization server this server uses, once per change."""
        if issuer != self._issuer:
            self._issuer = issuer
            if self.on_issuer is not None:
                self.on_issuer(issuer)

    def _current(self) -> TokenSet | None:
        """The token to send: from the keyring on first use, refreshed when it has expired."""
        self._load()
        tokens = self._tokens
        if tokens is not None and tokens.expired():
            if tokens.refresh_token and tokens.token_endpoint:
                try:
                    self._refresh(tokens, None, None)
                except (OAuthError, SecretsError) as exc:
                    log.info("refreshing the expired token failed: %s", exc)
                    self._tokens = None
            else:
                self._tokens = None
        return self._tokens

    def _discover(self, challenge: dict[str, str]) -> tuple[ProtectedResource, ServerMetadata]:
        where = challenge.get("resource_metadata")
        if self._discovered is None or (where and where != self._discovered_at):
            self._discovered = discover(self._client(), self.endpoint, challenge, self.trust_issuer)
            self._discovered_at = where
            self._learned(self._discovered[1].issuer)
        return self._discovered

    def _client(self) -> httpx.Client:
        if self._http is None:
            import httpx

            self._http = httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0), follow_redirects=False)
        return self._http

    def _client_info(self, metadata: ServerMetadata, redirect_uri: str) -> ClientInfo:
        """Who the bridge is to this authorization server, in the specification's order of preference."""
        if self.client_id:
            secret = self._env.get(SECRET_ENV) or None
            if secret is None:
                try:
                    secret = self._secret_store().get(key(self.name, CLIENT_SECRET))
                except SecretsError as exc:
                    log.info("no client secret from the keyring (%s); using the client without one", exc)
            return ClientInfo(
                metadata.issuer, self.client_id, secret, choose_auth_method(metadata, bool(secret)), redirect_uri
            )
        if self.client_metadata_url and metadata.raw.get("client_id_metadata_document_supported") is True:
            check_secure(self.client_metadata_url, "client metadata document")
            return ClientInfo(metadata.issuer, self.client_metadata_url, None, "none", redirect_uri)
        stored = self._stored_client()
        if (
            stored is not None
            and same_identifier(stored.issuer, metadata.issuer)
            and stored.redirect_uri == redirect_uri
        ):
            return stored
        return self._register(metadata, redirect_uri)

    def _register(self, metadata: ServerMetadata, redirect_uri: str) -> ClientInfo:
        """Dynamic Client Registration (RFC 7591) as a native application with a loopback redirect."""
        endpoint = metadata.url("registration_endpoint")
        if endpoint is None:
            raise OAuthError(
                f"the authorization server {metadata.issuer} offers no dynamic client registration; "
                "register mcpguard there and pass --client-id"
            )
        supported = metadata.strings("token_endpoint_auth_methods_supported")
        method = "none" if not supported or "none" in supported else choose_auth_method(metadata, True)
        body: dict[str, Any] = {
            "client_name": f"mcpguard ({self.name})",
            "redirect_uris": [redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": method,
            "application_type": "native",
        }
        response = self._post(endpoint, json=body, what="client registration")
        if response.status_code not in (200, 201):
            raise OAuthError(f"the authorization server refused to register mcpguard (HTTP {response.status_code})")
        data = _json(response, "client registration")
        client_id = data.get("client_id")
        if not isinstance(client_id, str) or not client_id:
            raise OAuthError("the client registration answer holds no client_id")
        secret = data.get("client_secret") if isinstance(data.get("client_secret"), str) else None
        used = data.get("token_endpoint_auth_method")
        used = used if isinstance(used, str) else (method if secret or method == "none" else "none")
        if used != "none" and not secret:
            used = "none"
        info = ClientInfo(metadata.issuer, client_id, secret, used, redirect_uri)
        self._registered = info
        try:
            save_client(self._secret_store(), self.name, info)
        except SecretsError as exc:  # it serves this run; the next one registers again
            log.warning("the client registration for %r could not be kept in the keyring: %s", self.name, exc)
        return info

    def _stored_client(self) -> ClientInfo | None:
        """The registration from this run, else the keyring's; a locked keyring just means none."""
        if self._registered is not None:
            return self._registered
        try:
            return load_client(self._secret_store(), self.name)
        except SecretsError as exc:
            log.info("no stored client registration (%s)", exc)
            return None

    def _choose_scope(self, challenge: dict[str, str], prm: ProtectedResource, metadata: ServerMetadata) -> str | None:
        scope = self.user_scope or challenge.get("scope") or (" ".join(prm.scopes_supported) or None)
        if scope and "offline_access" in metadata.strings("scopes_supported"):
            scope = _merge_scopes(scope, "offline_access")
        return scope

    def _authorize(self, challenge: dict[str, str], scope: str | None, response: httpx.Response) -> bool:
        """Sign the user in (authorization code + PKCE S256) and store the tokens.

        Returns False when the sign-in was handed to the tray: the request that needed it is
        answered at once with :attr:`failure`, and the tokens arrive later (:meth:`_await_signin`).
        The GET stream, which reconnects on its own for as long as the bridge runs, never starts
        one in the tray: offers follow what the client asks, not a background loop.
        """
        if _has_request(response) and response.request.method == "GET" and self._tray_alive():
            self.failure = f"the remote server {self.name!r} needs a sign-in; the tray offers it at the next request"
            return False
        if not _spend(self._signins, MAX_SIGNINS):
            raise OAuthError(f"the server refused the tokens of {MAX_SIGNINS} sign-ins in a row; giving up for now")
        spent = self._signins[-1]
        prm, metadata = self._discover(challenge)
        if "S256" not in metadata.strings("code_challenge_methods_supported"):
            raise OAuthError(
                f"the authorization server {metadata.issuer} does not advertise PKCE S256; refusing to sign in there"
            )
        authorize = metadata.authorization_endpoint
        check_secure(authorize, "authorization endpoint")
        stored = None if self.client_id else self._stored_client()
        port = _port_of(stored.redirect_uri) if stored is not None and stored.redirect_uri else 0
        listener = self._listener(port)
        handed_over = False
        try:
            client = self._client_info(metadata, listener.redirect_uri)
            scope = scope or self._choose_scope(challenge, prm, metadata)
            self._requested_scope = scope
            verifier, code_challenge = pkce_pair()
            state = secrets.token_urlsafe(32)
            params = {
                "response_type": "code",
                "client_id": client.client_id,
                "redirect_uri": listener.redirect_uri,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
                "state": state,
            }
            if scope:
                params["scope"] = scope
            if prm.resource is not None:
                params["resource"] = prm.resource
            url = authorize + ("&" if "?" in authorize else "?") + urlencode(params, quote_via=quote)
            host = check_secure(authorize, "authorization endpoint").host
            timeout = float(self._env.get(TIMEOUT_ENV, DEFAULT_SIGNIN_TIMEOUT))
            pending = _PendingSignIn(listener, host, state, verifier, client, prm, metadata, scope, timeout, spent)
            if self._offer_in_tray(pending, url):
                handed_over = True
                return False
            self._notify(f"sign in to {self.name} at {host} in your browser")
            threading.Thread(target=self._launch, args=(url,), name="browser", daemon=True).start()
            try:
                answer = listener.wait(timeout)
            except TimeoutError as exc:
                raise OAuthError(f"nobody signed in to {self.name} at {host} within {timeout:.0f} s") from exc
        finally:
            if not handed_over:
                listener.close()
        self._exchange(pending, answer)
        return True

    def _tray_alive(self) -> bool:
        try:
            return self._board is not None and self._board.tray_alive()
        except Exception as exc:  # the store is the tray's only channel: without it, the browser opens here
            log.info("could not tell whether the tray runs (%s)", exc)
            return False

    def _offer_in_tray(self, pending: _PendingSignIn, url: str) -> bool:
        """Post the sign-in for the tray when one runs; the listener then waits on a thread of its own."""
        board = self._board
        if board is None or not self._tray_alive():
            return False
        try:
            pending.request_id = board.post(pending.host, url, time.time() + pending.timeout)
        except Exception as exc:  # the store is the tray's only channel: without it, the browser opens here
            log.info("could not offer the sign-in in the tray (%s); opening the browser", exc)
            return False
        self._pending = pending
        self.failure = signin_sentence(self.name, pending.host)
        self._notify(f"sign in to {self.name} at {pending.host}: the mcpguard tray offers it (Sign in to {self.name})")
        threading.Thread(target=self._await_signin, args=(pending,), name="signin", daemon=True).start()
        return True

    def _await_signin(self, pending: _PendingSignIn) -> None:
        """Wait for the redirect of a sign-in the tray offers, then exchange its code; always withdraw the offer."""
        answer: dict[str, str] | None = None
        try:
            answer = pending.listener.wait(pending.timeout)
        except TimeoutError:
            log.info("nobody signed in to %s at %s within %.0f s", self.name, pending.host, pending.timeout)
        except OSError:
            log.info("the sign-in to %s was given up", self.name)
        finally:
            pending.listener.close()
        with self._lock:
            try:
                if answer is not None:
                    self._exchange(pending, answer)
                    self._notify(f"signed in to {self.name} at {pending.host}")
                elif pending.spent in self._signins:
                    self._signins.remove(pending.spent)  # nobody came: not one of the sign-ins the server refused
            except (OAuthError, SecretsError) as exc:
                self.failure = f"signing in to the remote server {self.name!r} failed: {exc}"
                log.warning("%s", self.failure)
            finally:
                if self._pending is pending:
                    self._pending = None
                self._withdraw(pending)
                pending.done.set()

    def _withdraw(self, pending: _PendingSignIn) -> None:
        if self._board is None or pending.request_id is None:
            return
        request_id, pending.request_id = pending.request_id, None
        try:
            self._board.drop(request_id)
        except Exception as exc:  # it expires on its own; the tray's heartbeat deletes it then
            log.info("could not withdraw the sign-in request: %s", exc)

    def _exchange(self, pending: _PendingSignIn, answer: dict[str, str]) -> None:
        """Check the redirect's answer and trade its code for tokens (with the PKCE verifier)."""
        self._check_answer(answer, pending.state, pending.metadata)
        data = {
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": pending.client.redirect_uri or pending.listener.redirect_uri,
            "code_verifier": pending.verifier,
        }
        if pending.prm.resource is not None:
            data["resource"] = pending.prm.resource
        answer = self._token_request(pending.metadata, pending.client, data)
        self._store_tokens(answer, pending.prm, pending.metadata, pending.client, pending.scope, None)

    # -- a sign-in the tray offers, seen from the bridge ---------------------------------------------

    @property
    def signin_pending(self) -> bool:
        """A sign-in waits in the tray: the transport tells the client so in :attr:`failure`'s words."""
        return self._pending is not None

    def signin_left(self) -> float | None:
        """Seconds the sign-in offered in the tray still waits for the user; None when none waits."""
        pending = self._pending
        return max(0.0, pending.deadline - time.monotonic()) if pending is not None else None

    def wait_signin(self, timeout: float) -> bool:
        """Wait for the offered sign-in to end (signed in, failed or expired); False if it still waits."""
        pending = self._pending
        return pending is None or pending.done.wait(timeout)

    def cancel_signin(self) -> None:
        """The bridge stops: close the listener and withdraw the offer, so the tray stops showing it."""
        pending = self._pending
        if pending is None:
            return
        pending.listener.close()
        self._withdraw(pending)

    def _launch(self, url: str) -> None:
        """Open the browser on a thread of its own: with ``BROWSER`` set, webbrowser waits for it to exit."""
        if not self._open_browser(url):
            self._notify(f"no browser could be opened; open this address to sign in to {self.name}: {url}")

    @staticmethod
    def _check_answer(answer: dict[str, str], state: str, metadata: ServerMetadata) -> None:
        """The redirect must carry our ``state``, no error, a code, and the right ``iss`` (RFC 9207)."""
        if not hmac.compare_digest(answer.get("state", ""), state):
            raise OAuthError("the answer of the sign-in carries the wrong state; it was not the answer to this sign-in")
        iss = answer.get("iss")
        if metadata.raw.get("authorization_response_iss_parameter_supported") is True and iss is None:
            raise OAuthError("the authorization server promised an iss parameter (RFC 9207) and sent none")
        if iss is not None and not same_identifier(iss, metadata.issuer):
            raise OAuthError(f"the answer of the sign-in comes from issuer {iss!r}, not {metadata.issuer!r} (RFC 9207)")
        if "error" in answer:
            description = answer.get("error_description", "")[:200]
            raise OAuthError(f"the authorization server answered {answer['error'][:60]!r} {description}".rstrip())
        if not answer.get("code"):
            raise OAuthError("the answer of the sign-in holds no authorization code")

    def _refresh(self, tokens: TokenSet, prm: ProtectedResource | None, metadata: ServerMetadata | None) -> None:
        """A new access token for the refresh token, from the server that issued it (never another)."""
        if metadata is None:
            metadata = ServerMetadata(tokens.issuer, {"issuer": tokens.issuer, "token_endpoint": tokens.token_endpoint})
            metadata.raw["revocation_endpoint"] = tokens.revocation_endpoint
        if prm is None:
            prm = ProtectedResource(tokens.resource, [tokens.issuer])
        client = self._refresh_client(tokens, metadata)
        data = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token or ""}
        if prm.resource is not None:
            data["resource"] = prm.resource
        answer = self._token_request(metadata, client, data)
        self._store_tokens(answer, prm, metadata, client, tokens.scope, tokens.refresh_token)

    def _refresh_client(self, tokens: TokenSet, metadata: ServerMetadata) -> ClientInfo:
        if self.client_id and tokens.client_id == self.client_id:
            secret = self._env.get(SECRET_ENV) or None
            return ClientInfo(tokens.issuer, self.client_id, secret, choose_auth_method(metadata, bool(secret)))
        stored = self._stored_client()
        if (
            stored is not None
            and stored.client_id == tokens.client_id
            and same_identifier(stored.issuer, tokens.issuer)
        ):
            return stored
        return ClientInfo(tokens.issuer, tokens.client_id or "", None, "none")

    def _token_request(self, metadata: ServerMetadata, client: ClientInfo, data: dict[str, str]) -> dict[str, Any]:
        endpoint = metadata.token_endpoint
        check_secure(endpoint, "token endpoint")
        headers = {"Accept": "application/json"}
        form = dict(data)
        _client_auth(client, form, headers)
        response = self._post(endpoint, data=form, headers=headers, what="token request")
        answer = _json(response, "token request")
        if response.status_code != 200:
            error = answer.get("error") if isinstance(answer.get("error"), str) else f"HTTP {response.status_code}"
            raise OAuthError(f"the token endpoint refused: {str(error)[:60]}")
        if not isinstance(answer.get("access_token"), str) or not answer["access_token"]:
            raise OAuthError("the token endpoint's answer holds no access token")
        if str(answer.get("token_type", "")).lower() != "bearer":
            raise OAuthError("the token endpoint issued a token that is not a Bearer token")
        return answer

    def _store_tokens(
        self,
        answer: dict[str, Any],
        prm: ProtectedResource,
        metadata: ServerMetadata,
        client: ClientInfo,
        scope: str | None,
        old_refresh: str | None,
    ) -> None:
        audience = prm.resource or str(self.endpoint)
        jwks_uri = metadata.url("jwks_uri")
        jwks = fetch_jwks(self._client(), jwks_uri) if jwks_uri else None
        check_access_token(answer["access_token"], audience=audience, issuer=metadata.issuer, jwks=jwks)
        expires_in = answer.get("expires_in")
        refresh = answer.get("refresh_token")
        granted = answer.get("scope")
        tokens = TokenSet(
            issuer=metadata.issuer,
            resource=prm.resource,
            access_token=answer["access_token"],
            refresh_token=refresh if isinstance(refresh, str) and refresh else old_refresh,
            expires_at=time.time() + float(expires_in) if isinstance(expires_in, int | float) else None,
            scope=granted if isinstance(granted, str) else scope,
            client_id=client.client_id,
            revocation_endpoint=metadata.url("revocation_endpoint"),
            token_endpoint=metadata.token_endpoint,
        )
        self._tokens = tokens
        self._loaded = True
        self.failure = None
        try:
            save_tokens(self._secret_store(), self.name, tokens)
        except SecretsError as exc:  # the token still serves this run; the user is told it will not last
            log.warning("the token for %r could not be kept in the keyring: %s", self.name, exc)

    def _post(self, url: str, *, what: str, **kwargs: Any) -> httpx.Response:
        import httpx

        try:
            return self._client().post(url, **kwargs)
        except httpx.HTTPError as exc:
            raise OAuthError(f"the {what} at {url} failed: {type(exc).__name__}") from exc


def _client_auth(client: ClientInfo, form: dict[str, str], headers: dict[str, str]) -> None:
    """Authenticate the client as registered: Basic (RFC 6749 section 2.3.1, form-encoded parts), POST, or none.

    ``client_id`` goes in the form every time: it identifies, it does not authenticate, and some
    servers (the official SDK's among them) look the client up by it before reading the header.
    """
    form["client_id"] = client.client_id
    if client.auth_method == "client_secret_basic" and client.client_secret:
        pair = f"{quote(client.client_id, safe='')}:{quote(client.client_secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    elif client.auth_method == "client_secret_post" and client.client_secret:
        form["client_secret"] = client.client_secret


def _spend(times: list[float], limit: int) -> bool:
    """Record one more attempt unless ``limit`` were made within :data:`WINDOW` seconds."""
    now = time.monotonic()
    times[:] = [t for t in times if now - t < WINDOW]
    if len(times) >= limit:
        return False
    times.append(now)
    return True


def _has_request(response: httpx.Response) -> bool:
    try:
        response.request  # noqa: B018
    except RuntimeError:
        return False
    return True


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise OAuthError(
            f"the {what} was answered with something that is not a JSON object (HTTP {response.status_code})"
        )
    return data


def _port_of(uri: str) -> int:
    import httpx

    try:
        return httpx.URL(uri).port or 0
    except Exception:
        return 0


def logout(
    name: str, store: SecretStore, http: httpx.Client | None = None, env: Mapping[str, str] | None = None
) -> str:
    """``mcpguard remote logout NAME``: revoke (RFC 7009) where the server can, delete the stored tokens.

    Returns:
        A sentence for the user saying what was done.
    """
    tokens = load_tokens(store, name)
    if tokens is None:
        store.delete(key(name, TOKENS))
        return f"no stored sign-in for {name!r}"
    revoked = ""
    if tokens.revocation_endpoint:
        import httpx

        client_http = http or httpx.Client(timeout=10.0, follow_redirects=False)
        stored = load_client(store, name)
        secret = (env if env is not None else os.environ).get(SECRET_ENV) or None
        if stored is not None and stored.client_id == tokens.client_id:
            client = stored
        else:
            client = ClientInfo(
                tokens.issuer, tokens.client_id or "", secret, "client_secret_basic" if secret else "none"
            )
        ok = True
        for token, hint in ((tokens.refresh_token, "refresh_token"), (tokens.access_token, "access_token")):
            if not token:
                continue
            # Basic first when registered so, then the secret in the form: some servers (the SDK's)
            # accept only the latter at their revocation endpoint although they list both.
            methods = [client.auth_method]
            if client.auth_method == "client_secret_basic" and client.client_secret:
                methods.append("client_secret_post")
            done = False
            for method in methods:
                form = {"token": token, "token_type_hint": hint}
                headers: dict[str, str] = {}
                _client_auth(ClientInfo(client.issuer, client.client_id, client.client_secret, method), form, headers)
                try:
                    check_secure(tokens.revocation_endpoint, "revocation endpoint")
                    response = client_http.post(tokens.revocation_endpoint, data=form, headers=headers)
                except (httpx.HTTPError, OAuthError):
                    break
                if response.status_code == 200:
                    done = True
                    break
            ok = ok and done
        revoked = (
            " (revoked at the authorization server)"
            if ok
            else " (the authorization server did not confirm the revocation)"
        )
    store.delete(key(name, TOKENS))
    return f"signed out of {name!r}: its tokens are deleted from the keyring{revoked}"
