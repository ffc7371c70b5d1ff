"""Fixtures shared by the bridge's tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from mcpguard.pinning.store import Store

if TYPE_CHECKING:
    from tests.remote.test_bridge import Harness


@pytest.fixture
def harnesses(store: Store) -> Iterator[list[Harness]]:
    """Bridges a test started (``test_bridge.start``); each is closed after the test if still running."""
    started: list[Harness] = []
    yield started
    for h in started:
        if h._thread.is_alive():
            h.close()
