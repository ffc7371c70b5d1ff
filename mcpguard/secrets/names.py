"""Secret names: ``SERVER/VAR``, split at the last slash; and what a name and a value may hold.

Kept apart from :mod:`.base` (which needs ``typing`` for its protocol) because the shim reads names
at every start and imports nothing it can avoid.
"""

from __future__ import annotations

SEPARATOR = "/"
INTERNAL_SERVER = "mcpguard"
"""The server part of mcpguard's own secrets (whose variable parts are not variable names)."""


def secret_name(server: str, variable: str) -> str:
    """``SERVER/VAR``, checked.

    Raises:
        ValueError: The server or the variable name is not acceptable.
    """
    if SEPARATOR in variable:
        raise ValueError(f"{variable!r} is not a usable environment variable name (it holds a {SEPARATOR})")
    name = f"{server}{SEPARATOR}{variable}"
    check_name(name)
    return name


def split_name(name: str) -> tuple[str, str]:
    """``(server, variable)`` of ``SERVER/VAR``, split at the last slash.

    Raises:
        ValueError: There is no slash, or a part is empty.
    """
    server, sep, variable = name.rpartition(SEPARATOR)
    if not sep or not server or not variable:
        raise ValueError(f"a secret name is SERVER/VARIABLE, not {name!r}")
    return server, variable


def is_variable_name(variable: str) -> bool:
    """True for a name a server can receive as an environment variable.

    Letters, digits and underscores, not starting with a digit: the portable subset (POSIX shells,
    Windows, Node and Python all accept it). A name outside it is one of mcpguard's own secrets.
    """
    if not variable or variable[0].isdigit():
        return False
    return all(ch == "_" or ("a" <= ch.lower() <= "z") or ch.isdigit() for ch in variable) and variable.isascii()


def is_internal(name: str) -> bool:
    """True for mcpguard's own secrets (``mcpguard/integrity-key``): never injected, never listed as a server's."""
    server, _, variable = name.rpartition(SEPARATOR)
    return server == INTERNAL_SERVER and not is_variable_name(variable)


def check_name(name: str) -> None:
    """Refuse names that could not be injected or stored faithfully.

    Raises:
        ValueError: With a sentence that says what is wrong.
    """
    server, variable = split_name(name)
    if "\x00" in name or any(ord(ch) < 0x20 for ch in name):
        raise ValueError("a secret name cannot contain control characters")
    if not is_variable_name(variable) and not is_internal(name):
        raise ValueError(
            f"{variable!r} is not a usable environment variable name (letters, digits and _, not starting with a digit)"
        )
    if server != server.strip():
        raise ValueError(f"the server name {server!r} starts or ends with a space")


def check_value(value: str) -> None:
    """Refuse values an environment variable cannot carry.

    Raises:
        ValueError: The value is empty or holds a NUL character.
    """
    if not value:
        raise ValueError("the secret is empty")
    if "\x00" in value:
        raise ValueError("the secret contains a NUL character, which no environment variable can carry")
