"""The in-memory store behaves like the keyring store, including refusing bad names and values."""

from __future__ import annotations

import threading

import pytest

from mcpguard.secrets.base import SecretsUnavailable
from mcpguard.secrets.memory import MemoryStore


def test_get_set_delete_names() -> None:
    store = MemoryStore({"b/TOKEN": "value-b"})
    store.set("a/TOKEN", "value-a")
    assert store.get("a/TOKEN") == "value-a"
    assert store.names() == ["a/TOKEN", "b/TOKEN"]
    assert store.delete("a/TOKEN") is True
    assert store.delete("a/TOKEN") is False
    assert store.get("a/TOKEN") is None
    assert store.is_system is False


def test_refuses_what_the_keyring_store_refuses() -> None:
    store = MemoryStore()
    with pytest.raises(ValueError):
        store.set("no-separator", "x")
    with pytest.raises(ValueError):
        store.set("a/TOKEN", "")


def test_setdefault_keeps_the_first_value_under_contention() -> None:
    store = MemoryStore()
    results: list[str] = []

    def create(i: int) -> None:
        results.append(store.setdefault("mcpguard/integrity-key", f"value-{i}"))

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1


def test_can_play_an_unavailable_keyring() -> None:
    store = MemoryStore({"a/TOKEN": "value-a"})
    store.unavailable = SecretsUnavailable("locked")
    with pytest.raises(SecretsUnavailable):
        store.get("a/TOKEN")
    assert store.names() == ["a/TOKEN"]  # names never need the keyring
