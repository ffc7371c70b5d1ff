"""Policy: status and verdict from pins alone."""

from __future__ import annotations

import pytest

from mcpguard.policy import Pin, Status, Verdict, status, verdict


@pytest.mark.parametrize(
    ("pin", "expected_status", "expected_verdict"),
    [
        (Pin("a", None), Status.PENDING, Verdict.HIDE),
        (Pin("a", "a"), Status.APPROVED, Verdict.PASS),
        (Pin("b", "a"), Status.CHANGED, Verdict.SERVE_APPROVED),
        (Pin("b", "a", live_denied=True), Status.DENIED, Verdict.SERVE_APPROVED),
        (Pin("a", None, live_denied=True), Status.DENIED, Verdict.HIDE),
    ],
)
def test_status_and_verdict(pin: Pin, expected_status: Status, expected_verdict: Verdict) -> None:
    assert status(pin) is expected_status
    assert verdict(pin) is expected_verdict


def test_unapproved_identity_holds_even_approved_items() -> None:
    assert verdict(Pin("a", "a"), identity_approved=False) is Verdict.SERVE_APPROVED
    assert verdict(Pin("a", None), identity_approved=False) is Verdict.HIDE
