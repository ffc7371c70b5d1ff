"""Queues a log record for every tool call, blocked or answered; the shim writes it off the hot path."""

from __future__ import annotations

import time

from mcpguard.audit import ArgumentsText, CallRecord, bounded_json

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    from typing import Any

    from mcpguard.proxy.hooks import Flow
    from mcpguard.proxy.session import Session


class CallLog:
    """Turns calls and their answers into :class:`CallRecord` s in ``session.audit``."""

    def tool_called(self, session: Session, flow: Flow) -> None:
        if flow.reply is None:
            return
        params = flow.params
        session.audit.append(
            CallRecord(
                at=time.time(),
                tool=str(params.get("name", "")),
                # Rendered now: a refused call's arguments may be large, and the record waits for the flush.
                arguments=ArgumentsText(bounded_json(params.get("arguments"), source_bytes=flow.size or None)),
                duration_ms=None,
                outcome="blocked",
                detail=flow.detail,
            )
        )

    def tool_answered(self, session: Session, flow: Flow) -> None:
        if flow.own:
            return
        result = flow.result
        error: Any = flow.message.get("error")
        if error is not None:
            outcome = "protocol-error"
            detail = str(error.get("message", "")) if isinstance(error, dict) else str(error)
        elif result is not None and result.get("isError") is True:
            outcome, detail = "tool-error", ""
        else:
            outcome, detail = "ok", ""
        params = flow.params
        session.audit.append(
            CallRecord(
                at=time.time(),
                tool=str(params.get("name", "")),
                arguments=params.get("arguments"),
                duration_ms=(session.clock() - flow.started) * 1000 if flow.started else None,
                outcome=outcome,
                result_size=flow.size,
                findings=flow.findings,
                detail=detail,
            )
        )
