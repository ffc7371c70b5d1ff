"""The tray offers "Sign in to NAME" for a real ``mcpguard remote`` that needs it, and the client retries.

Real things throughout: the SDK's OAuth-protected server (``tests/servers/sdk_oauth.py``), the bridge
as a subprocess spoken to in raw JSON-RPC, the tray's own objects (StoreBridge, MainWindow, Tray)
under the offscreen platform, beating the heartbeat that tells the bridge a tray runs. The browser
the tray opens is ``tests/servers/fake_browser.py`` set as ``BROWSER``, as in the conformance driver.
"""

from __future__ import annotations

import time
import webbrowser
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from mcpguard.gui.bridge import StoreBridge
from mcpguard.gui.main_window import MainWindow
from mcpguard.gui.tray import Tray
from mcpguard.pinning.store import Store
from mcpguard.remote.bridge import AUTHORIZATION_SERVER
from tests.integration.helpers import INITIALIZE, PYTHON, Shim

pytestmark = [pytest.mark.gui, pytest.mark.integration]


@pytest.fixture
def signin(signin_environ: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setattr(webbrowser, "_tryorder", None)  # webbrowser reads BROWSER again, this test's
    return signin_environ


@pytest.fixture
def tray(qtbot: QtBot, store: Store) -> Iterator[Tray]:
    bridge = StoreBridge(store, poll_ms=50)
    window = MainWindow(store, bridge)
    qtbot.addWidget(window)
    bridge.start()
    yield Tray(store, window)
    bridge.stop()


def start_bridge(url: str, name: str, tmp_path: Path) -> Shim:
    argv = [PYTHON, "-m", "mcpguard", "remote", url, "--name", name, "--client", "test"]
    return Shim(name, [], workdir=tmp_path / "bridges", argv=argv)


def is_signin(title: str, text: str) -> bool:
    """The sign-in notification, not the one about the new server's identity waiting for approval."""
    return title.startswith("Sign in to ")


def signin_entries(tray: Tray) -> list[str]:
    tray.menu.aboutToShow.emit()
    return [a.text() for a in tray.menu.actions() if a.text().startswith("Sign in")]


def test_the_tray_offers_the_sign_in_and_the_client_retries(
    qtbot: QtBot, tray: Tray, store: Store, oauth_server: str, signin: dict[str, str], tmp_path: Path
) -> None:
    store.set_setting("first_list_hold", "0")  # the tray runs: a new server's first list would wait for the user
    bridge = start_bridge(oauth_server, "secured", tmp_path)
    try:
        with qtbot.waitSignal(tray.notified, timeout=20000, check_params_cb=is_signin) as shown:
            began = time.monotonic()
            bridge.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INITIALIZE})
        answer = bridge.response(1, timeout=10)
        assert time.monotonic() - began < 10, "the client is answered at once, not after the sign-in"
        assert answer["error"]["message"] == (
            "mcpguard needs you to sign in to secured at 127.0.0.1: use the mcpguard tray notification "
            "'Sign in to secured', then retry."
        )
        title, text = shown.args
        assert title == "Sign in to secured"
        assert "at 127.0.0.1" in text, "the notification names where the credentials go"
        [request] = store.signins()
        assert (request.server, request.host) == ("secured", "127.0.0.1")
        assert signin_entries(tray) == ["Sign in to secured at 127.0.0.1"]
        assert not Path(signin["FAKE_BROWSER_LOG"]).exists(), "the bridge opened no browser itself"

        with qtbot.waitSignal(tray.window.bridge.signins_changed, timeout=30000):
            tray.icon.messageClicked.emit()  # the user clicks the notification
        assert store.signins() == [] and tray.window.bridge.signins == []
        assert Path(signin["FAKE_BROWSER_LOG"]).read_text().splitlines() == [request.url]
        assert signin_entries(tray) == []

        result = bridge.result("initialize", INITIALIZE)  # the client retries
        bridge.notify("notifications/initialized")
        assert result["serverInfo"]["name"] == "sdk-oauth"
        assert bridge.list_tools()["tools"] == [], "signed in; the tools wait for approval as ever"
        (server,) = store.find_servers("secured", "test")
        command = store.item(server.id, "command", "")
        assert command.live is not None
        assert command.live.definition["argv"][-2:-1] == [AUTHORIZATION_SERVER]
    finally:
        bridge.close()


def test_an_expired_sign_in_leaves_the_tray_and_a_retry_offers_a_new_one(
    qtbot: QtBot,
    tray: Tray,
    store: Store,
    oauth_server: str,
    signin: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MCPGUARD_SIGNIN_TIMEOUT", "2")
    bridge = start_bridge(oauth_server, "slow", tmp_path)
    try:
        with qtbot.waitSignal(tray.notified, timeout=20000, check_params_cb=is_signin):
            bridge.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INITIALIZE})
        assert "error" in bridge.response(1, timeout=10)
        [first] = store.signins()
        qtbot.waitUntil(lambda: tray.window.bridge.signins == [], timeout=10000)
        assert store.signins() == [] and signin_entries(tray) == [], "withdrawn when its listener gave up"

        with qtbot.waitSignal(tray.notified, timeout=20000, check_params_cb=is_signin) as shown:
            bridge.send({"jsonrpc": "2.0", "id": 2, "method": "initialize", "params": INITIALIZE})
        assert "needs you to sign in to slow" in bridge.response(2, timeout=10)["error"]["message"]
        assert shown.args[0] == "Sign in to slow"
        [second] = store.signins()
        assert second.id != first.id and second.url != first.url, "a new offer with a new state"
        assert not Path(signin["FAKE_BROWSER_LOG"]).exists()
    finally:
        bridge.close()
    assert store.signins() == [], "a bridge that ends withdraws its offer"
