"""Queues a log record for every tool call, blocked or answered; the shim writes it off the hot path."""

from __future__ import annotations

import time
from typing import Any

from mcpguard.audit import CallRecord
from mcpguard.proxy.hooks import Flow
from mcpguard.proxy.session import Session


class CallLog:
    """Turns calls and their answers into :class:`CallRecord` s in ``session.audit``."""

    def tool_called(self, session: Session, flow: Flow) -> None:
        if flow.reply is None:
            return
        session.audit.append(
            CallRecord(
                at=time.time(),
                tool=str(flow.params.get("name", "")),
                arguments=flow.params.get("arguments"),
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
        session.audit.append(
            CallRecord(
                at=time.time(),
                tool=str(flow.params.get("name", "")),
                arguments=flow.params.get("arguments"),
                duration_ms=(session.clock() - flow.started) * 1000 if flow.started else None,
                outcome=outcome,
                result_size=flow.size,
                findings=flow.findings,
                detail=detail,
            )
        )
