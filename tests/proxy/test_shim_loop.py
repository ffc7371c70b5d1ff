"""The relay thread fails closed: if the loop itself breaks, the server is ended instead of the client hanging."""

from __future__ import annotations

import signal

from mcpguard.proxy import shim as shim_module


class _Proc:
    args = ["server"]
    stdin = None
    stdout = -1

    def __init__(self) -> None:
        self.signals: list[int] = []

    def signal_group(self, sig: int) -> None:
        self.signals.append(sig)


def test_a_broken_relay_ends_the_server(expect_warnings: list[str]) -> None:
    proc = _Proc()
    shim = shim_module.Shim(object(), object(), proc, grace=0)  # type: ignore[arg-type]
    shim._poll_loop()  # no outboxes were set up: the loop cannot run
    assert proc.signals == [signal.SIGTERM]
    assert any("the relay failed; stopping the server" in w for w in expect_warnings)
