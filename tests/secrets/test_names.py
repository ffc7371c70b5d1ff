"""Secret names: SERVER/VAR, split at the last slash, checked before anything is stored."""

from __future__ import annotations

import pytest

from mcpguard.secrets.names import (
    check_name,
    check_value,
    is_internal,
    is_variable_name,
    secret_name,
    split_name,
)


def test_name_round_trip() -> None:
    assert secret_name("github", "GITHUB_TOKEN") == "github/GITHUB_TOKEN"
    assert split_name("github/GITHUB_TOKEN") == ("github", "GITHUB_TOKEN")


def test_server_names_may_hold_slashes_and_unicode() -> None:
    name = secret_name("acme/tools Straße", "API_KEY")
    assert split_name(name) == ("acme/tools Straße", "API_KEY")


@pytest.mark.parametrize("variable", ["", "1ABC", "A-B", "A B", "A=B", "Ä", "A/B"])
def test_bad_variable_names_are_refused(variable: str) -> None:
    with pytest.raises(ValueError):
        secret_name("srv", variable)


@pytest.mark.parametrize("name", ["nosep", "/VAR", "srv/", "srv/A\x00"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        check_name(name)


def test_server_name_with_surrounding_space_is_refused() -> None:
    with pytest.raises(ValueError, match="space"):
        secret_name(" srv", "TOKEN")


def test_variable_names() -> None:
    assert is_variable_name("GITHUB_TOKEN")
    assert is_variable_name("_x1")
    assert not is_variable_name("integrity-key")


def test_internal_names_are_mcpguards_own() -> None:
    assert is_internal("mcpguard/integrity-key")
    check_name("mcpguard/integrity-key")
    assert not is_internal("mcpguard/TOKEN")  # a server may be called mcpguard too
    assert not is_internal("other/integrity-key")
    with pytest.raises(ValueError):
        check_name("other/integrity-key")


@pytest.mark.parametrize("value", ["", "a\x00b"])
def test_values_an_environment_cannot_carry_are_refused(value: str) -> None:
    with pytest.raises(ValueError):
        check_value(value)
