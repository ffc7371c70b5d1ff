"""A base for the small immutable records on the shim's path: what ``@dataclass(frozen=True)`` gave.

``dataclasses`` costs about 8 ms to import (it pulls in ``inspect``) and 0.7 ms per class to build,
and the shim starts for every server every time a client starts. A record lists its fields in
``__slots__``, declares them ``Final`` (mypy then refuses any assignment outside ``__init__``) and
assigns them in an explicit ``__init__``; equality, hashing and ``repr`` follow the fields in order.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    from typing import ClassVar


class Value:
    """Equality, hash and repr over the fields named in ``__slots__``."""

    __slots__: ClassVar[tuple[str, ...]] = ()

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Value) or type(other) is not type(self):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"
