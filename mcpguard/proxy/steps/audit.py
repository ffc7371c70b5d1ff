"""Makes the log record of every tool call, blocked or answered; the relay writes it off the hot path."""

from __future__ import annotations

from mcpguard.audit import ArgumentsText, CallRecord, bounded_json
from mcpguard.proxy.pipeline import LIGHT_FROM

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    from typing import Any

    from mcpguard.proxy.hooks import Flow
    from mcpguard.proxy.session import Session


class CallLog:
    """Turns finished calls into :class:`CallRecord` s (``flow.record``), after the other observers.

    A call mcpguard refused (``flow.reply`` set by the gate) is logged as ``blocked`` with its
    request's arguments; a call the server answered gets the outcome its answer says.
    """

    def call_finished(self, session: Session, flow: Flow) -> None:
        params = flow.params
        tool = str(params.get("name", ""))
        if flow.reply is not None:
            flow.record = CallRecord(
                at=flow.at,
                tool=tool,
                arguments=ArgumentsText(bounded_json(params.get("arguments"), source_bytes=flow.size or None)),
                duration_ms=None,
                outcome="blocked",
                detail=flow.detail,
                findings=flow.findings,
            )
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
        arguments = params.get("arguments")
        if not isinstance(arguments, ArgumentsText):
            # Remembered whole, so its request was under LIGHT_FROM bytes: one call of the C encoder.
            arguments = ArgumentsText(bounded_json(arguments, source_bytes=LIGHT_FROM))
        flow.record = CallRecord(
            at=flow.at,
            tool=tool,
            arguments=arguments,
            duration_ms=(flow.ended - flow.started) * 1000 if flow.started else None,
            outcome=outcome,
            result_size=flow.size,
            findings=flow.findings,
            detail=detail,
        )
