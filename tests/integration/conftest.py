"""Fixtures for tests that start real processes: shims over raw pipes, cleaned up whatever happens."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from tests.integration.helpers import Shim

SpawnShim = Callable[..., Shim]


@pytest.fixture
def relay(request: pytest.FixtureRequest) -> str:
    """How the shims relay: ``poll`` (one thread, the default) or ``threads`` (the fallback where poll is missing).

    Parametrize a test with ``@pytest.mark.parametrize("relay", ["poll", "threads"], indirect=True)``.
    """
    return str(getattr(request, "param", "poll"))


@pytest.fixture
def spawn_shim(tmp_path: Path, relay: str) -> Iterator[SpawnShim]:
    """Start ``mcpguard run --name NAME -- COMMAND`` with raw pipes; every shim is ended after the test."""
    started: list[Shim] = []

    def spawn(
        name: str,
        server_command: Sequence[str],
        *,
        client: str = "test",
        env: Mapping[str, str] | None = None,
    ) -> Shim:
        env = {**(env or {}), "MCPGUARD_RELAY": relay}
        shim = Shim(name, server_command, workdir=tmp_path / "shims", client=client, env=env)
        started.append(shim)
        return shim

    yield spawn
    for shim in reversed(started):
        shim.close()
