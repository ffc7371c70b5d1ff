"""Pins who the server is: the command line, its serverInfo and its instructions to the model."""

from __future__ import annotations

from mcpguard.policy import Status, Verdict, verdict

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    from typing import Any

    from mcpguard.proxy.hooks import Flow
    from mcpguard.proxy.session import Session

SERVER_INFO_META_KEY = "io.modelcontextprotocol/serverInfo"
LIST_CHANGED_KINDS = ("tools", "prompts", "resources")


class IdentityPin:
    """Holds everything of a server whose command line is not approved; withholds new instructions."""

    def started(self, session: Session) -> None:
        views = session.store.observe(
            session.server.id,
            "command",
            {"": {"argv": session.command}},
            auto_approve_actor=session.first_use_actor(),
        )
        session.pins["command"] = views
        session.identity_approved = views[""].status is Status.APPROVED

    def client_notified(self, session: Session, flow: Flow) -> None:
        if flow.message.get("method") == "notifications/initialized":
            session.initialized = True

    def initialize_answered(self, session: Session, flow: Flow) -> None:
        result = flow.result
        if result is None:
            return
        info = result.get("serverInfo")
        if info is None:
            meta = result.get("_meta")
            info = meta.get(SERVER_INFO_META_KEY) if isinstance(meta, dict) else None
        if info is not None:
            session.pins["server_info"] = session.store.observe(
                session.server.id, "server_info", {"": info}, auto_approve_actor=session.first_use_actor()
            )
        instructions = result.get("instructions")
        if isinstance(instructions, str):
            self._withhold_instructions(session, flow, result, instructions)
        capabilities = result.get("capabilities")
        if isinstance(capabilities, dict):
            session.capabilities = capabilities
            for key in LIST_CHANGED_KINDS:
                cap = capabilities.get(key)
                if isinstance(cap, dict) and cap.get("listChanged") is not True:
                    capabilities[key] = {**cap, "listChanged": True}
                    flow.modified = True

    @staticmethod
    def _withhold_instructions(session: Session, flow: Flow, result: dict[str, Any], text: str) -> None:
        views = session.store.observe(
            session.server.id,
            "instructions",
            {"": {"text": text}},
            findings=_findings,
            auto_approve_actor=session.first_use_actor(),
        )
        session.pins["instructions"] = views
        view = views[""]
        decided = verdict(view.pin, identity_approved=session.identity_approved)
        if decided is Verdict.PASS:
            session.instructions_shown = text
            return
        flow.modified = True
        if decided is Verdict.SERVE_APPROVED and view.approved is not None:
            result["instructions"] = view.approved.definition["text"]
            session.instructions_shown = result["instructions"]
        else:
            del result["instructions"]
            session.instructions_shown = None

    def decisions_changed(self, session: Session) -> None:
        command = session.view("command", "")
        session.identity_approved = command is not None and command.status is Status.APPROVED


def _findings(kind: str, name: str, definition: Any) -> list[dict[str, str]]:
    from mcpguard.scanner import scan_definition

    return [f.to_json() for f in scan_definition(definition)]
