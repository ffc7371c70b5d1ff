"""What the client may see and call, decided from pins alone: pure functions, no I/O."""

from __future__ import annotations

import enum

from mcpguard.values import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    from typing import Final


class Status(enum.StrEnum):
    """Where one pinned item stands, as the user sees it."""

    APPROVED = "approved"
    """The live definition is the approved one."""
    PENDING = "pending"
    """Never approved in any version: new."""
    CHANGED = "changed"
    """An older version was approved; the live one differs and waits for a decision."""
    DENIED = "denied"
    """The user refused the live definition."""


class Verdict(enum.Enum):
    """How the proxy treats an item of a listing and calls to it."""

    PASS = "pass"
    """Show the live definition and forward calls."""
    SERVE_APPROVED = "serve-approved"
    """Show the last approved definition instead (clients often ignore list_changed); refuse calls."""
    HIDE = "hide"
    """Leave it out of listings; a call is answered as for an unknown tool."""


class Pin(Value):
    """The store's view of one item, enough for a decision."""

    __slots__ = ("live_fingerprint", "approved_fingerprint", "live_denied")

    live_fingerprint: Final[str | None]
    approved_fingerprint: Final[str | None]
    live_denied: Final[bool]

    def __init__(
        self, live_fingerprint: str | None, approved_fingerprint: str | None, live_denied: bool = False
    ) -> None:
        self.live_fingerprint = live_fingerprint
        self.approved_fingerprint = approved_fingerprint
        self.live_denied = live_denied


def status(pin: Pin) -> Status:
    """The user-facing status of an item."""
    if pin.live_denied:
        return Status.DENIED
    if pin.approved_fingerprint is not None and pin.approved_fingerprint == pin.live_fingerprint:
        return Status.APPROVED
    if pin.approved_fingerprint is not None:
        return Status.CHANGED
    return Status.PENDING


def verdict(pin: Pin, *, identity_approved: bool = True) -> Verdict:
    """Decide one item; fails closed.

    Args:
        pin: The item's live and approved fingerprints.
        identity_approved: False while the server's command line is new or changed and not
            approved; then nothing of the server may be called, whatever its own pin says.
    """
    if pin.approved_fingerprint is None:
        return Verdict.HIDE
    if identity_approved and status(pin) is Status.APPROVED:
        return Verdict.PASS
    return Verdict.SERVE_APPROVED
