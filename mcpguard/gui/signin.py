"""Sign-in requests of remote bridges, as the tray and the window offer them: check, announce, open.

A remote bridge that needs the user to sign in records the request in the store (``signins``) when a
tray runs; :class:`~mcpguard.gui.bridge.StoreBridge` polls them. The tray shows "Sign in to NAME" as
a notification and a menu entry; without a system tray (GNOME without an extension, for one) the
window is the application, and its menu bar offers them instead.
"""

from __future__ import annotations

import logging
import threading
import webbrowser
from urllib.parse import urlsplit

from mcpguard.pinning.store import SignInRequest, Store

log = logging.getLogger(__name__)


def open_in_browser(url: str) -> None:
    """Open ``url`` with :mod:`webbrowser`, as the remote bridge does, on a thread of its own.

    webbrowser rather than QDesktopServices: the standard ``BROWSER`` variable is honoured, the
    same way whether the bridge or the tray opens a sign-in. With ``BROWSER`` set, webbrowser
    waits for that program to exit, which must not freeze the GUI.
    """

    def run() -> None:
        try:
            if not webbrowser.open(url):
                log.warning("no browser could be opened for a sign-in")
        except Exception:
            log.exception("opening the browser failed")

    threading.Thread(target=run, name="browser", daemon=True).start()


def signin_url_ok(request: SignInRequest) -> bool:
    """An authorization URL that may be opened: https (http only to loopback), on the host it announced.

    The row comes from a database other processes write, and a browser handed another scheme
    (``file:``, a custom handler) might run something; the host is the one the user was shown.
    """
    try:
        parts = urlsplit(request.url)
        host = parts.hostname
    except ValueError:
        return False
    if host is None or host != request.host.strip("[]").lower():
        return False
    loopback = host in ("localhost", "::1") or host.startswith("127.")
    return parts.scheme == "https" or (parts.scheme == "http" and loopback)


def signin_notification(request: SignInRequest) -> tuple[str, str]:
    """Title and text of "Sign in to NAME": the authorization server's host says where credentials go.

    The host is on the first line and each sentence has a line of its own: a notification is read at
    a glance, and lines short enough for a narrow balloon are not wrapped mid-phrase. The first line
    alone is also the window's status bar message.
    """
    return (
        f"Sign in to {request.server}",
        f"{request.server} needs you to sign in at {request.host}.\n"
        "Click to open the sign-in page in your browser.\n"
        "Once you are signed in, the AI client can retry.",
    )


def menu_text(request: SignInRequest) -> str:
    """The menu entry of a sign-in request (tray menu or the window's menu bar).

    Nothing follows the host, not even the usual ellipsis: the host is what the user checks before
    typing a password, and "mcp.example.com…" would read as a name cut short.
    """
    return f"Sign in to {request.server} at {request.host}"


def open_signin(store: Store, request_id: int) -> bool:
    """Open a request's authorization page in the browser; False when it no longer waits or looks wrong."""
    request = next((r for r in store.signins() if r.id == request_id), None)
    if request is None:
        return False
    if not signin_url_ok(request):
        log.warning("refused to open the sign-in address of %s: not an https page on %s", request.server, request.host)
        return False
    open_in_browser(request.url)
    return True
