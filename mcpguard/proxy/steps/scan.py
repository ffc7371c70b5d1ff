"""Scans what tools return for the same poisoning as definitions; findings go to the log."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    from mcpguard.proxy.hooks import Flow
    from mcpguard.proxy.session import Session


class ResultScan:
    """Reports, never rewrites: a result is data the user asked for, and changing it silently would lie.

    It observes finished calls (``call_finished``), so the scan runs after the answer went to the
    client, off the relay path: a report cannot hold up the answer it reports on.
    """

    def call_finished(self, session: Session, flow: Flow) -> None:
        result = flow.result if flow.reply is None else None
        if result is None:
            return
        from mcpguard.scanner import scan_result

        flow.findings += [f.to_json() for f in scan_result(result)]
