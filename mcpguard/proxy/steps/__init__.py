"""The interception steps, one job each, in the order the shim runs them."""

from __future__ import annotations

from mcpguard.proxy.steps.audit import CallLog
from mcpguard.proxy.steps.first_list_hold import FirstListHold
from mcpguard.proxy.steps.identity import IdentityPin
from mcpguard.proxy.steps.list_changed import ListChanged
from mcpguard.proxy.steps.listing_filter import ListingFilter
from mcpguard.proxy.steps.scan import ResultScan
from mcpguard.proxy.steps.tool_gate import ToolGate


def default_steps() -> list[object]:
    """The guard's steps. Order matters: pins are read before calls are gated, and the log comes last."""
    return [IdentityPin(), ListingFilter(), FirstListHold(), ToolGate(), ListChanged(), ResultScan(), CallLog()]


__all__ = [
    "CallLog",
    "FirstListHold",
    "IdentityPin",
    "ListChanged",
    "ListingFilter",
    "ResultScan",
    "ToolGate",
    "default_steps",
]
