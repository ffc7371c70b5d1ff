"""Scrub secrets from anything mcpguard writes down: log rows, exports, error messages, stderr.

A :class:`Redactor` knows two things: the *values* of secrets it was given (a server's keyring
secrets, plaintext tokens still in its environment), each replaced by ``[redacted:NAME]``; and
the *shapes* of credentials (:data:`mcpguard.secrets.detect.SHAPES`, URL passwords, ``Bearer``
tokens), replaced by ``[redacted]``, which also catches secrets mcpguard was never told about.

It runs on every logged call, so it is built once and is cheap when there is nothing to find.
Every pattern has literal anchors (a known value itself; ``ghp_``, ``sk-``, ``://``... for the
shapes), and ``anchor in text`` (a C-speed substring search) decides whether the precompiled
regular expression runs at all: on a kilobyte of ordinary text the whole check costs a few
microseconds, where one big alternation costs a millisecond. The known values form one
alternation, escaped and longest first, so a value that contains another is replaced whole. A
string, list or dict with nothing to replace is returned as the very same object, without copying.
Values shorter than :data:`~mcpguard.secrets.detect.MIN_LENGTH` are not scrubbed by value: a
3-character "secret" would blank out every word that contains it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from mcpguard.secrets.detect import MIN_LENGTH, URL_CREDENTIALS, compiled_shapes, secrets_in_environment

T = TypeVar("T")

REDACTED = "[redacted]"
_AUTH = re.compile(r"(?P<scheme>\b(?:Bearer|Basic|Token|bearer|basic|token) +)[A-Za-z0-9._~+/-]{16,}=*")
_AUTH_ANCHORS = ("earer ", "asic ", "oken ")  # Bearer, Basic, Token in either case

Check = tuple[tuple[str, ...], "re.Pattern[str]", "Callable[[re.Match[str]], str] | str"]


def forms(value: str) -> list[str]:
    """The ways ``value`` appears in text: as itself and JSON-escaped (ASCII-only and not)."""
    found = [value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]]
    return list(dict.fromkeys(found))


_shape_checks: dict[str, list[Check]] = {}


def _shared_checks(marker: str = REDACTED) -> list[Check]:
    """The shape checks replacing with ``marker``, compiled once per process and shared by every redactor."""
    checks = _shape_checks.get(marker)
    if checks is None:

        def url_password(m: re.Match[str]) -> str:
            start, end = m.span("password")
            whole, base = m.group(), m.start()
            return whole[: start - base] + marker + whole[end - base :]

        def auth_token(m: re.Match[str]) -> str:
            return m.group("scheme") + marker

        literal = marker.replace("\\", "\\\\")  # a replacement string of re.sub reads backslashes
        checks = [(s.anchors, p, literal) for s, p in compiled_shapes()]
        checks.append((("://",), re.compile(URL_CREDENTIALS), url_password))
        checks.append((_AUTH_ANCHORS, _AUTH, auth_token))
        _shape_checks[marker] = checks
    return checks


class Redactor:
    """Replaces known secret values and credential shapes in text and in JSON-like values.

    Args:
        known: ``{name: value}``: each value (and its JSON-escaped forms) becomes ``[redacted:name]``.
        shapes: Also replace anything shaped like a credential with ``[redacted]``.
        min_length: Known values shorter than this are ignored.
        marker: Put this in place of every secret instead (no name, no ``[redacted]``): screens that
            show a config say ``[hidden: token]`` where the log says ``[redacted]``.
    """

    __slots__ = ("_checks", "_forms", "_known", "_marker", "_names")

    def __init__(
        self,
        known: Mapping[str, str] | None = None,
        *,
        shapes: bool = True,
        min_length: int = MIN_LENGTH,
        marker: str | None = None,
    ) -> None:
        names: dict[str, str] = {}
        for name, value in sorted((known or {}).items()):
            if not isinstance(value, str) or len(value) < min_length:
                continue
            for form in forms(value):
                names.setdefault(form, name)
        self._names = names
        self._forms = tuple(sorted(names, key=lambda f: (-len(f), f)))
        self._known = re.compile("|".join(re.escape(f) for f in self._forms)) if names else None
        self._marker = marker
        self._checks = _shared_checks(REDACTED if marker is None else marker) if shapes else []

    @classmethod
    def for_server(cls, secrets: Mapping[str, str], env: Mapping[str, str] | None = None, server: str = "") -> Redactor:
        """The redactor of one guarded server.

        Args:
            secrets: ``{VAR: value}`` injected from the keyring; shown as ``[redacted:SERVER/VAR]``.
            env: The environment the server was started with: plaintext secrets still in it (found by
                name and shape) are scrubbed too, as ``[redacted:VAR]``.
            server: The server's name, for the labels.
        """
        found = secrets_in_environment(env) if env else {}
        known = {name: value for name, value in found.items() if name not in secrets}
        for var, value in secrets.items():
            known[f"{server}/{var}" if server else var] = value
        return cls(known)

    @property
    def known_names(self) -> list[str]:
        """The names of the values this redactor replaces (never the values)."""
        return sorted(set(self._names.values()))

    def _known_label(self, m: re.Match[str]) -> str:
        return self._marker if self._marker is not None else f"[redacted:{self._names[m.group()]}]"

    def text(self, s: str) -> str:
        """``s`` with every secret replaced; ``s`` itself (the same object) when there was none."""
        out = s
        if self._known is not None:
            for form in self._forms:
                if form in out:
                    out = self._known.sub(self._known_label, out)
                    break
        for anchors, pattern, replacement in self._checks:
            for anchor in anchors:
                if anchor in out:
                    out = pattern.sub(replacement, out)
                    break
        return s if out == s else out

    def value(self, obj: T) -> T:
        """A JSON-like value (dicts, lists, strings, numbers...) with secrets replaced in every string.

        Keys are scrubbed too. Containers with nothing to replace are returned as the same object.
        """
        if isinstance(obj, str):
            return self.text(obj)  # type: ignore[return-value]
        if isinstance(obj, dict):
            changed = False
            out: dict[Any, Any] = {}
            for key, item in obj.items():
                new_key = self.text(key) if isinstance(key, str) else key
                new_item = self.value(item)
                changed = changed or new_key is not key or new_item is not item
                out[new_key] = new_item
            return out if changed else obj  # type: ignore[return-value]
        if isinstance(obj, list | tuple):
            items = [self.value(item) for item in obj]
            if all(a is b for a, b in zip(items, obj, strict=True)):
                return obj
            return type(obj)(items) if isinstance(obj, tuple) else items  # type: ignore[return-value]
        return obj

    def __call__(self, s: str) -> str:
        """Same as :meth:`text`, so a redactor can be passed where a ``str -> str`` filter is expected."""
        return self.text(s)
