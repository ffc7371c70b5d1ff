"""Edit one entry's launch command in a JSON, JSONC, YAML or TOML config, touching nothing else.

Each format gives a :class:`Document` that can

- take a :class:`Snapshot` of an entry: the exact source text of its command and args values;
- ``wrap`` it: replace the command, and put mcpguard's arguments *in front of* the existing args
  (the original items keep their formatting and comments, and the entry stays readable);
- ``restore`` it from a snapshot, byte for byte;
- ``unprefix`` it without a snapshot: drop the leading items mcpguard added, set the command back.

JSON/JSONC and YAML are edited as text at the character spans of the values (found with our own
JSONC scanner and with ruamel.yaml's round-trip positions), so every other byte stays as it was,
comments included. TOML goes through tomlkit, which keeps a document's formatting and comments
and re-renders only the values that change. Every edit is checked by :func:`verify` before it is
written: the new text parses, the entry is what was meant, and the rest of the data is unchanged.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from mcpguard.clients import jsonc
from mcpguard.clients.errors import ConfigParseError, UnsupportedEntry, VerifyFailed
from mcpguard.clients.table import EntryShape, Format

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Snapshot:
    """The source text of an entry's launch values before mcpguard changed them."""

    command_raw: str
    args_raw: str | None
    """None when the entry had no args: unwrap removes the member again."""
    args_style: str
    """``json``, ``flow``, ``block``, ``toml`` or ``absent``: restore refuses a mismatch."""
    entry_raw: str | None = None
    """TOML inline tables: the whole table (tomlkit cannot remove a key from one without a trace).
    Remote entries: the whole JSON entry, or for YAML and TOML the lines the wrap replaced."""
    wrapped_raw: str | None = None
    """Remote entries of YAML and TOML: the lines the wrap wrote in place of ``entry_raw``. Unwrap
    finds them again by their text, which holds the server's name and URL and so occurs once."""

    def to_json(self) -> dict[str, Any]:
        """The form stored in wraps.json."""
        doc = asdict(self)
        if self.wrapped_raw is None:
            del doc["wrapped_raw"]  # records of local wraps keep the shape older versions read
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Snapshot:
        return cls(
            doc["command_raw"], doc.get("args_raw"), doc["args_style"], doc.get("entry_raw"), doc.get("wrapped_raw")
        )


class Document(ABC):
    """A parsed config file that can rewrite one entry's command and args."""

    text: str
    data: Any
    """The whole file as plain Python data (dicts, lists, strings...)."""

    @abstractmethod
    def snapshot(self, at: KeyPath, shape: EntryShape) -> Snapshot:
        """The source text of the entry's command and args, taken before a wrap."""

    @abstractmethod
    def wrap(self, at: KeyPath, shape: EntryShape, command: str, prefix: Sequence[str]) -> str:
        """The text with the entry's command replaced and ``prefix`` put before its args."""

    @abstractmethod
    def restore(self, at: KeyPath, shape: EntryShape, snap: Snapshot) -> str | None:
        """The text with the snapshot's values put back; None when the entry no longer fits it."""

    @abstractmethod
    def unprefix(self, at: KeyPath, shape: EntryShape, command: str, drop: int) -> str:
        """The text with the command set to ``command`` and the first ``drop`` args removed."""

    @abstractmethod
    def wrap_remote(
        self,
        at: KeyPath,
        shape: EntryShape,
        url_key: str | None,
        command: str,
        args: Sequence[str],
        drop: Sequence[str] = ("headers",),
    ) -> str:
        """The text with a remote entry made a stdio one: the URL member (or the mcp-remote command and
        args) becomes ``command`` and ``args``, the ``drop`` keys (its headers) go, a ``type`` says ``stdio``."""

    @abstractmethod
    def rebuild_remote(
        self,
        at: KeyPath,
        shape: EntryShape,
        url_key: str,
        url: str,
        kind: str | None,
        header_path: Sequence[str],
        headers: Sequence[tuple[str, str]],
    ) -> str:
        """The text with a wrapped remote entry made remote again from its command alone (no record of the
        original is left): ``command`` becomes ``url_key``, ``args`` goes and the headers, if any, take its
        place under ``header_path``; a ``type`` says ``kind``, or goes when ``kind`` is None (a ``stdio``
        type beside a URL would send the client looking for a command). Every other key stays as it is.
        """


def changed_lines(before: str, after: str) -> tuple[str, str]:
    """The whole lines that differ between two texts: ``(old, new)``, everything around them equal.

    A remote wrap of a YAML or TOML entry records both, so unwrap can put ``old`` back in place of
    ``new`` byte for byte, whichever library wrote ``new``.
    """
    start = 0
    limit = min(len(before), len(after))
    while start < limit and before[start] == after[start]:
        start += 1
    start = _line_start(before, start)
    tail = 0
    limit = min(len(before), len(after)) - start
    while tail < limit and before[-1 - tail] == after[-1 - tail]:
        tail += 1
    end_before, end_after = len(before) - tail, len(after) - tail
    if not (before[end_before - 1 : end_before] == after[end_after - 1 : end_after] == "\n"):
        # move both ends to the end of the line, within the tail the texts share
        nl = before.find("\n", end_before)
        grow = nl + 1 - end_before if nl >= 0 else tail
        end_before, end_after = end_before + grow, end_after + grow
    return before[start:end_before], after[start:end_after]


def load(text: str, fmt: Format, source: str) -> Document:
    """Parse ``text`` as ``fmt``.

    Raises:
        ConfigParseError: The text does not parse (with line and column).
    """
    if fmt in ("json", "jsonc"):
        return JsonDocument(text, comments=fmt == "jsonc", source=source)
    if fmt == "yaml":
        return YamlDocument(text, source)
    return TomlDocument(text, source)


def get_at(data: Any, at: KeyPath) -> Any:
    """The value at a key path; KeyError or IndexError when it is not there."""
    node = data
    for key in at:
        if isinstance(key, int):
            if not isinstance(node, list):
                raise KeyError(key)
            node = node[key]
        else:
            if not isinstance(node, dict):
                raise KeyError(key)
            node = node[key]
    return node


def same_except(a: Any, b: Any, at: KeyPath) -> bool:
    """``a == b`` everywhere but at the key path ``at`` (without copying big documents)."""
    if not at:
        return True
    key, rest = at[0], at[1:]
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys() or key not in a:
            return False
        return all(a[k] == b[k] for k in a if k != key) and same_except(a[key], b[key], rest)
    if isinstance(a, list) and isinstance(b, list) and isinstance(key, int):
        if len(a) != len(b) or not 0 <= key < len(a):
            return False
        return all(x == y for i, (x, y) in enumerate(zip(a, b, strict=True)) if i != key) and same_except(
            a[key], b[key], rest
        )
    return False


def verify(before: Document, after_text: str, fmt: Format, source: str, at: KeyPath, expected: Any) -> Document:
    """Check an edit before it is written: parse again, compare the entry and everything else.

    Raises:
        VerifyFailed: The new text does not parse, or the entry or anything else is not as meant.
    """
    try:
        after = load(after_text, fmt, source)
    except ConfigParseError as exc:
        raise VerifyFailed(f"the edited {source} would not parse ({exc.problem}); it was left as it was") from exc
    try:
        entry = get_at(after.data, at)
    except (KeyError, IndexError):
        entry = None
    if entry is None or entry != expected:
        raise VerifyFailed(f"the edited entry in {source} would not read back as intended; the file was left as it was")
    if not same_except(after.data, before.data, at):
        raise VerifyFailed(f"editing {source} would have changed more than the entry; the file was left as it was")
    return after


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    for start, end, new in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _dumps(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _line_end(text: str, pos: int) -> int:
    """The offset just after the line break ending the line that holds ``pos`` (or the text's end)."""
    nl = text.find("\n", pos)
    return len(text) if nl < 0 else nl + 1


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


# -- JSON and JSONC: text edits at exact spans --------------------------------------------------------


class JsonDocument(Document):
    """JSON or JSONC, edited in place at the spans of the changed values."""

    def __init__(self, text: str, *, comments: bool, source: str) -> None:
        self.text = text
        self.comments = comments
        self.root = jsonc.parse(text, comments=comments, source=source)
        self.data = self.root.value

    def _parts(self, at: KeyPath, shape: EntryShape) -> tuple[jsonc.Node, jsonc.Member, jsonc.Member | None]:
        node = self._entry(at)
        cmd = node.member(shape.command)
        if cmd is None or cmd.value.kind != "string":
            raise UnsupportedEntry(f"the entry's {shape.command!r} is not a string")
        args = node.member(shape.args)
        if args is not None and (args.value.kind != "array" or any(i.kind != "string" for i in args.value.items)):
            raise UnsupportedEntry(f"the entry's {shape.args!r} is not a list of strings")
        return node, cmd, args

    def snapshot(self, at: KeyPath, shape: EntryShape) -> Snapshot:
        _, cmd, args = self._parts(at, shape)
        args_raw = self.text[args.value.start : args.value.end] if args else None
        return Snapshot(self.text[cmd.value.start : cmd.value.end], args_raw, "json" if args else "absent")

    def wrap(self, at: KeyPath, shape: EntryShape, command: str, prefix: Sequence[str]) -> str:
        entry, cmd, args = self._parts(at, shape)
        edits = [(cmd.value.start, cmd.value.end, _dumps(command))]
        if args is None:
            member = "," + self._member_sep(cmd) + _dumps(shape.args) + self._colon(cmd) + self._inline(prefix)
            edits.append((cmd.value.end, cmd.value.end, member))
        elif not args.value.items:
            edits.append((args.value.start, args.value.end, self._inline(prefix)))
        else:
            sep = self._item_sep(args.value)
            first = args.value.items[0].start
            edits.append((first, first, "".join(_dumps(p) + "," + sep for p in prefix)))
        return _apply(self.text, edits)

    def restore(self, at: KeyPath, shape: EntryShape, snap: Snapshot) -> str | None:
        if snap.args_style not in ("json", "absent"):
            return None
        entry, cmd, args = self._parts(at, shape)
        edits = [(cmd.value.start, cmd.value.end, snap.command_raw)]
        if snap.args_raw is None:
            if args is not None:
                edits.append(self._removal(entry, args))
        elif args is not None:
            edits.append((args.value.start, args.value.end, snap.args_raw))
        else:
            return None
        return _apply(self.text, edits)

    def unprefix(self, at: KeyPath, shape: EntryShape, command: str, drop: int) -> str:
        _, cmd, args = self._parts(at, shape)
        if args is None:
            raise UnsupportedEntry("the entry has no args to unwrap")
        edits = [(cmd.value.start, cmd.value.end, _dumps(command))]
        items = args.value.items
        if drop >= len(items):
            edits.append((args.value.start, args.value.end, "[]"))
        else:
            edits.append((items[0].start, items[drop].start, ""))
        return _apply(self.text, edits)

    # remote entries: the whole entry is recorded, and the URL member becomes command and args

    def _entry(self, at: KeyPath) -> jsonc.Node:
        node = self.root
        for key in at:
            if isinstance(key, int):
                node = node.items[key]
            else:
                member = node.member(key)
                if member is None:
                    raise UnsupportedEntry(f"{key!r} is missing")
                node = member.value
        if node.kind != "object":
            raise UnsupportedEntry("the entry is not an object")
        return node

    def entry_text(self, at: KeyPath) -> str:
        """The source text of the whole entry (a remote wrap records it to restore it exactly)."""
        node = self._entry(at)
        return self.text[node.start : node.end]

    def replace_entry(self, at: KeyPath, raw: str) -> str:
        """The text with the whole entry replaced by ``raw``."""
        node = self._entry(at)
        return _apply(self.text, [(node.start, node.end, raw)])

    def wrap_remote(
        self,
        at: KeyPath,
        shape: EntryShape,
        url_key: str | None,
        command: str,
        args: Sequence[str],
        drop: Sequence[str] = ("headers",),
    ) -> str:
        entry = self._entry(at)
        edits: list[tuple[int, int, str]] = []
        if url_key is None:
            _, cmd, old = self._parts(at, shape)
            edits.append((cmd.value.start, cmd.value.end, _dumps(command)))
            if old is None:
                member = "," + self._member_sep(cmd) + _dumps(shape.args) + self._colon(cmd) + self._inline(args)
                edits.append((cmd.value.end, cmd.value.end, member))
            else:
                edits.append((old.value.start, old.value.end, self._inline(args)))
        else:
            url = entry.member(url_key)
            if url is None:
                raise UnsupportedEntry(f"the entry has no {url_key!r}")
            colon = self._colon(url)
            text = (
                _dumps(shape.command)
                + colon
                + _dumps(command)
                + ","
                + self._member_sep(url)
                + _dumps(shape.args)
                + colon
                + self._inline(args)
            )
            edits.append((url.key_start, url.value.end, text))
            for name in drop:
                held = entry.member(name)
                if held is not None:
                    edits.append(self._removal(entry, held))
        kind = entry.member("type")
        if kind is not None:
            edits.append((kind.value.start, kind.value.end, _dumps("stdio")))
        return _apply(self.text, edits)

    def rebuild_remote(
        self,
        at: KeyPath,
        shape: EntryShape,
        url_key: str,
        url: str,
        kind: str | None,
        header_path: Sequence[str],
        headers: Sequence[tuple[str, str]],
    ) -> str:
        entry, cmd, args = self._parts(at, shape)
        if args is None:
            raise UnsupportedEntry(f"the entry has no {shape.args!r}")
        for key in (url_key, header_path[0]):
            if entry.member(key) is not None:
                raise UnsupportedEntry(f"the entry already has a {key!r} beside its command")
        colon = self._colon(cmd)
        kind_member = entry.member("type")
        text = _dumps(url_key) + colon + _dumps(url)
        if kind is not None and kind_member is None:
            text = _dumps("type") + colon + _dumps(kind) + "," + self._member_sep(cmd) + text
        edits = [(cmd.key_start, cmd.value.end, text)]
        if headers:
            value: Any = dict(headers)
            for key in reversed(header_path[1:]):
                value = {key: value}
            held = _dumps(header_path[0]) + colon + json.dumps(value, ensure_ascii=False)
            edits.append((args.key_start, args.value.end, held))
        else:
            edits.append(self._removal(entry, args))
        if kind_member is not None:
            if kind is None:
                edits.append(self._removal(entry, kind_member))
            else:
                edits.append((kind_member.value.start, kind_member.value.end, _dumps(kind)))
        return _apply(self.text, edits)

    # formatting helpers: imitate what is already there

    def _member_sep(self, member: jsonc.Member) -> str:
        """The whitespace before ``member``'s key: a new member after it goes on a line of its own too."""
        i = member.key_start
        while i > 0 and self.text[i - 1] in " \t\r\n":
            i -= 1
        ws = self.text[i : member.key_start]
        if "\n" not in ws:
            return " "
        nl = ws.rfind("\n")
        return ("\r\n" if ws[nl - 1 : nl] == "\r" else "\n") + ws[nl + 1 :]

    def _colon(self, member: jsonc.Member) -> str:
        between = self.text[member.key_end : member.value.start]
        return between if between.strip() == ":" and "\n" not in between else ": "

    def _item_sep(self, array: jsonc.Node) -> str:
        """What goes after each comma between items: a line break and indent, or a space."""
        lead = self.text[array.start + 1 : array.items[0].start]
        if "\n" in lead:
            nl = lead.rfind("\n")
            indent = lead[nl + 1 :]
            indent = indent[: len(indent) - len(indent.lstrip(" \t"))]
            return ("\r\n" if lead[nl - 1 : nl] == "\r" else "\n") + indent
        if len(array.items) > 1:
            between = self.text[array.items[0].end : array.items[1].start]
            after = between.split(",", 1)[-1]
            if after.strip() == "" and "\n" not in after:
                return after
        return " "

    def _inline(self, values: Sequence[str]) -> str:
        return "[" + ", ".join(_dumps(v) for v in values) + "]"

    def _removal(self, entry: jsonc.Node, member: jsonc.Member) -> tuple[int, int, str]:
        """The edit that deletes a member with the comma that joins it to its neighbour."""
        index = entry.members.index(member)
        if index > 0:
            prev_end = entry.members[index - 1].value.end
            comma = jsonc.skip_trivia(self.text, prev_end, comments=self.comments)
            start = prev_end if self.text[prev_end:comma].strip() == "" else comma
            return start, member.value.end, ""
        if index + 1 < len(entry.members):
            return member.key_start, entry.members[index + 1].key_start, ""
        end = jsonc.skip_trivia(self.text, member.value.end, comments=self.comments)
        end = end + 1 if self.text[end : end + 1] == "," else member.value.end
        return member.key_start, end, ""


# -- YAML: text edits at the positions ruamel.yaml's round-trip loader records -----------------------

_YAML_PLAIN = re.compile(r"(?:[A-Za-z0-9_/.~]|-[A-Za-z0-9_-])[A-Za-z0-9_/.~@%+=^-]*")
_YAML_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _yaml_scalar(value: str) -> str:
    """A plain scalar when it reads back as this very string in any YAML version, else double quotes."""
    if (
        _YAML_PLAIN.fullmatch(value)
        and value.lower() not in _YAML_RESERVED
        and not re.match(r"[-+]?[.0-9]", value)
        and not value.startswith("0x")
    ):
        return value
    return _dumps(value)


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


class YamlDocument(Document):
    """YAML, edited as text at the positions ruamel.yaml records for each key and item."""

    def __init__(self, text: str, source: str) -> None:
        from ruamel.yaml import YAML
        from ruamel.yaml.error import MarkedYAMLError, YAMLError

        self.text = text
        self.source = source
        self.nl = "\r\n" if "\r\n" in text else "\n"
        try:
            self.root = YAML(typ="rt").load(text)
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
            raise ConfigParseError(source, line, col, str(exc.problem or exc.context or "invalid YAML")) from exc
        except YAMLError as exc:
            raise ConfigParseError(source, 1, 1, str(exc)) from exc
        self.data = _plain(self.root) if self.root is not None else {}
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def _off(self, pos: tuple[int, int]) -> int:
        return self.starts[pos[0]] + pos[1]

    def _map(self, at: KeyPath) -> Any:
        node: Any = self.root
        for key in at:
            node = node[key]
        if not hasattr(node, "lc") or not hasattr(node, "fa"):
            raise UnsupportedEntry("the entry is not a mapping")
        if node.fa.flow_style():
            raise UnsupportedEntry("the entry is written in flow style ({...}), which mcpguard does not edit")
        return node

    def _scalar_end(self, start: int) -> int:
        text = self.text
        ch = text[start : start + 1]
        if ch == '"':
            i = start + 1
            while i < len(text):
                if text[i] == "\\":
                    i += 2
                elif text[i] == '"':
                    return i + 1
                else:
                    i += 1
            raise UnsupportedEntry("a quoted value never ends")
        if ch == "'":
            i = start + 1
            while i < len(text):
                if text[i] == "'":
                    if text[i + 1 : i + 2] == "'":
                        i += 2
                        continue
                    return i + 1
                i += 1
            raise UnsupportedEntry("a quoted value never ends")
        if ch in ("|", ">", "&", "*", "!", "{", "[", ""):
            raise UnsupportedEntry("the value uses a YAML form mcpguard does not edit (block scalar, anchor or tag)")
        end = text.find("\n", start)
        segment = text[start : len(text) if end < 0 else end]
        cut = re.search(r"[ \t]#", segment)
        if cut:
            segment = segment[: cut.start()]
        return start + len(segment.rstrip(" \t\r"))

    def _command_span(self, entry: Any, shape: EntryShape) -> tuple[int, int]:
        if not isinstance(entry.get(shape.command), str):
            raise UnsupportedEntry(f"the entry's {shape.command!r} is not a string")
        start = self._off(entry.lc.value(shape.command))
        return start, self._scalar_end(start)

    def _args(self, entry: Any, shape: EntryShape) -> tuple[str, Any]:
        if shape.args not in entry:
            return "absent", None
        seq: Any = entry[shape.args]
        if not hasattr(seq, "fa") or not all(isinstance(v, str) for v in seq):
            raise UnsupportedEntry(f"the entry's {shape.args!r} is not a list of strings")
        if not seq:
            return "flow", seq  # an empty list can only be written "[]"
        return ("flow" if seq.fa.flow_style() else "block"), seq

    def _flow_span(self, entry: Any, shape: EntryShape) -> tuple[int, int]:
        start = self._off(entry.lc.value(shape.args))
        return start, flow_collection_end(self.text, start, "[", "the args list")

    def _item(self, seq: Any, index: int) -> int:
        return self._off(seq.lc.item(index))

    def _block_range(self, seq: Any) -> tuple[int, int, str]:
        """From the first item's line to the end of the last item's line, and the items' indent."""
        first = self._item(seq, 0)
        line = _line_start(self.text, first)
        dash = self.text.rfind("-", line, first)
        indent = self.text[line:dash]
        if dash < 0 or indent.strip(" ") != "":
            raise UnsupportedEntry("the args list is written in a compact form mcpguard does not edit")
        last = self._item(seq, len(seq) - 1)
        return line, _line_end(self.text, self._scalar_end(last)), indent

    def snapshot(self, at: KeyPath, shape: EntryShape) -> Snapshot:
        entry = self._map(at)
        start, end = self._command_span(entry, shape)
        style, seq = self._args(entry, shape)
        raw: str | None = None
        if style == "flow":
            a, b = self._flow_span(entry, shape)
            raw = self.text[a:b]
        elif style == "block":
            if not seq:
                raise UnsupportedEntry("the args list is empty but not written as []")
            a, b, _ = self._block_range(seq)
            raw = self.text[a:b]
        return Snapshot(self.text[start:end], raw, style)

    def wrap(self, at: KeyPath, shape: EntryShape, command: str, prefix: Sequence[str]) -> str:
        entry = self._map(at)
        start, end = self._command_span(entry, shape)
        edits = [(start, end, _yaml_scalar(command))]
        style, seq = self._args(entry, shape)
        flow = "[" + ", ".join(_yaml_scalar(p) for p in prefix) + "]"
        if style == "absent":
            pos = _line_end(self.text, end)
            lead = "" if self.text[pos - 1 : pos] == "\n" else self.nl
            key_col = entry.lc.key(shape.command)[1]
            edits.append((pos, pos, lead + " " * key_col + f"{shape.args}: {flow}" + self.nl))
        elif style == "flow":
            if not seq:
                edits.append((*self._flow_span(entry, shape), flow))
            else:
                first = self._item(seq, 0)
                edits.append((first, first, "".join(_yaml_scalar(p) + ", " for p in prefix)))
        else:
            if not seq:
                raise UnsupportedEntry("the args list is empty but not written as []")
            line, _, indent = self._block_range(seq)
            edits.append((line, line, "".join(f"{indent}- {_yaml_scalar(p)}{self.nl}" for p in prefix)))
        return _apply(self.text, edits)

    def restore(self, at: KeyPath, shape: EntryShape, snap: Snapshot) -> str | None:
        entry = self._map(at)
        start, end = self._command_span(entry, shape)
        style, seq = self._args(entry, shape)
        edits = [(start, end, snap.command_raw)]
        if snap.args_style == "absent":
            if style != "flow":
                return None
            _, b = self._flow_span(entry, shape)
            key = self._off(entry.lc.key(shape.args))
            edits.append((_line_start(self.text, key), _line_end(self.text, b), ""))
        elif snap.args_style != style or snap.args_raw is None or not seq:
            return None
        elif style == "flow":
            edits.append((*self._flow_span(entry, shape), snap.args_raw))
        else:
            a, b, _ = self._block_range(seq)
            edits.append((a, b, snap.args_raw))
        return _apply(self.text, edits)

    def unprefix(self, at: KeyPath, shape: EntryShape, command: str, drop: int) -> str:
        entry = self._map(at)
        start, end = self._command_span(entry, shape)
        style, seq = self._args(entry, shape)
        if style == "absent" or not seq:
            raise UnsupportedEntry("the entry has no args to unwrap")
        edits = [(start, end, _yaml_scalar(command))]
        if style == "flow":
            if drop >= len(seq):
                edits.append((*self._flow_span(entry, shape), "[]"))
            else:
                edits.append((self._item(seq, 0), self._item(seq, drop), ""))
        else:
            a, b, _ = self._block_range(seq)
            if drop >= len(seq):
                key = self._off(entry.lc.key(shape.args))
                edits.append((key, b, f"{shape.args}: []{self.nl}"))
            else:
                edits.append((a, _line_start(self.text, self._item(seq, drop)), ""))
        return _apply(self.text, edits)

    def wrap_remote(
        self,
        at: KeyPath,
        shape: EntryShape,
        url_key: str | None,
        command: str,
        args: Sequence[str],
        drop: Sequence[str] = ("headers",),
    ) -> str:
        entry = self._map(at)
        flow = "[" + ", ".join(_yaml_scalar(a) for a in args) + "]"
        edits: list[tuple[int, int, str]] = []
        if url_key is None:
            start, end = self._command_span(entry, shape)
            edits.append((start, end, _yaml_scalar(command)))
            style, seq = self._args(entry, shape)
            if style == "flow":
                edits.append((*self._flow_span(entry, shape), flow))
            elif style == "block" and seq:
                line, stop, indent = self._block_range(seq)
                edits.append((line, stop, "".join(f"{indent}- {_yaml_scalar(a)}{self.nl}" for a in args)))
            else:
                raise UnsupportedEntry("the mcp-remote entry has no args list mcpguard can rewrite")
        else:
            if not isinstance(entry.get(url_key), str):
                raise UnsupportedEntry(f"the entry's {url_key!r} is not a string")
            key = self._off(entry.lc.key(url_key))
            end = self._scalar_end(self._off(entry.lc.value(url_key)))
            edits.append((key, end, f"{shape.command}: {_yaml_scalar(command)}"))
            pos = _line_end(self.text, end)
            lead = "" if self.text[pos - 1 : pos] == "\n" else self.nl
            col = entry.lc.key(url_key)[1]
            edits.append((pos, pos, lead + " " * col + f"{shape.args}: {flow}" + self.nl))
        for name in drop:
            if name in entry:
                edits.append(self._key_lines(entry, name))
        if isinstance(entry.get("type"), str):
            start = self._off(entry.lc.value("type"))
            edits.append((start, self._scalar_end(start), "stdio"))
        return _apply(self.text, edits)

    def rebuild_remote(
        self,
        at: KeyPath,
        shape: EntryShape,
        url_key: str,
        url: str,
        kind: str | None,
        header_path: Sequence[str],
        headers: Sequence[tuple[str, str]],
    ) -> str:
        entry = self._map(at)
        if shape.args not in entry:
            raise UnsupportedEntry(f"the entry has no {shape.args!r}")
        for key in (url_key, header_path[0]):
            if key in entry:
                raise UnsupportedEntry(f"the entry already has a {key!r} beside its command")
        _, end = self._command_span(entry, shape)
        line, col = entry.lc.key(shape.command)
        edits = [(self._off((line, col)), end, f"{url_key}: {_yaml_scalar(url)}")]
        # the args lines go; a missing type and the headers take their place, at the entry's indent
        added = ""
        if kind is not None and "type" not in entry:
            added += " " * col + f"type: {_yaml_scalar(kind)}{self.nl}"
        if headers:
            for depth, key in enumerate(header_path):
                added += " " * (col + 2 * depth) + f"{_yaml_scalar(key)}:{self.nl}"
            inner = " " * (col + 2 * len(header_path))
            added += "".join(f"{inner}{_yaml_scalar(k)}: {_yaml_scalar(v)}{self.nl}" for k, v in headers)
        first, stop, _ = self._key_lines(entry, shape.args)
        edits.append((first, stop, added))
        if "type" in entry:
            if not isinstance(entry.get("type"), str):
                raise UnsupportedEntry("the entry's 'type' is not a string")
            if kind is None:
                edits.append(self._key_lines(entry, "type"))
            else:
                start = self._off(entry.lc.value("type"))
                edits.append((start, self._scalar_end(start), _yaml_scalar(kind)))
        return _apply(self.text, edits)

    def _key_lines(self, entry: Any, name: str) -> tuple[int, int, str]:
        """The edit that deletes a key and its value, whole lines, comments inside the value included."""
        line, col = entry.lc.key(name)
        key = self._off((line, col))
        first = _line_start(self.text, key)
        if self.text[first:key].strip(" ") != "":
            raise UnsupportedEntry(f"the entry's {name!r} shares its line with a list dash; mcpguard does not edit it")
        value = entry[name]
        if value is None:
            return first, _line_end(self.text, key), ""
        start = self._off(entry.lc.value(name))
        if hasattr(value, "fa") and value.fa.flow_style():
            opening = "{" if isinstance(value, dict) else "["
            return first, _line_end(self.text, flow_collection_end(self.text, start, opening, repr(name))), ""
        if not hasattr(value, "fa"):
            return first, _line_end(self.text, self._scalar_end(start)), ""
        # a block collection: every following line indented deeper than the key (or blank, or a
        # comment) is part of it; trailing blank lines are not
        end = _line_end(self.text, key)
        pos = end
        # a block list's dashes may sit at the key's own indent (``args:`` then ``- x`` below it)
        dashes = isinstance(value, list)
        while pos < len(self.text):
            stop = _line_end(self.text, pos)
            body = self.text[pos:stop].rstrip("\r\n")
            stripped = body.lstrip(" ")
            indent = len(body) - len(stripped)
            item = dashes and indent == col and (stripped == "-" or stripped.startswith("- "))
            if stripped and not stripped.startswith("#") and indent <= col and not item:
                break
            if stripped.startswith("#") and indent <= col:
                break
            if stripped:
                end = stop
            pos = stop
        return first, end, ""


# -- TOML: tomlkit keeps the document's formatting and comments -------------------------------------


class TomlDocument(Document):
    """TOML through tomlkit's style-preserving document model."""

    def __init__(self, text: str, source: str) -> None:
        import tomlkit
        from tomlkit.exceptions import ParseError

        self.text = text
        try:
            self.doc = tomlkit.parse(text)
        except ParseError as exc:
            problem = str(exc).split(" at line ")[0]
            raise ConfigParseError(source, exc.line, exc.col, problem) from exc
        self.data = _plain(self.doc.unwrap())

    def _table(self, doc: Any, at: KeyPath, shape: EntryShape) -> tuple[Any, Any]:
        from tomlkit.items import InlineTable, Table

        parent = doc
        for key in at[:-1]:
            parent = parent[key]
        table = parent[at[-1]]
        if not isinstance(table, Table | InlineTable):
            raise UnsupportedEntry("the entry is not a table of its own (dotted keys are not edited)")
        if not isinstance(table.get(shape.command), str):
            raise UnsupportedEntry(f"the entry's {shape.command!r} is not a string")
        args = table.get(shape.args)
        if args is not None and (not isinstance(args, list) or not all(isinstance(a, str) for a in args)):
            raise UnsupportedEntry(f"the entry's {shape.args!r} is not a list of strings")
        return parent, table

    def _fresh(self) -> Any:
        import tomlkit

        return tomlkit.parse(self.text)

    @staticmethod
    def _value(raw: str) -> Any:
        import tomlkit

        return tomlkit.parse(f"x = {raw}\n")["x"]

    def snapshot(self, at: KeyPath, shape: EntryShape) -> Snapshot:
        from tomlkit.items import InlineTable

        _, table = self._table(self.doc, at, shape)
        args = table.item(shape.args).as_string() if shape.args in table else None
        entry_raw = table.as_string() if isinstance(table, InlineTable) else None
        return Snapshot(
            table.item(shape.command).as_string(), args, "toml" if args is not None else "absent", entry_raw
        )

    def wrap(self, at: KeyPath, shape: EntryShape, command: str, prefix: Sequence[str]) -> str:
        import tomlkit

        doc = self._fresh()
        _, table = self._table(doc, at, shape)
        table[shape.command] = command
        if shape.args in table:
            array = table[shape.args]
            if "\n" in array.as_string():
                # a multi-line array may hold comments: insert before the first item, keep the rest
                for i, p in enumerate(prefix):
                    array.insert(i, p)
            else:
                # a one-line array holds no comments; a fresh one is spaced like tomlkit's own
                table[shape.args] = tomlkit.item([*prefix, *array])
        else:
            # tomlkit has no public "insert after"; appending would put args after the entry's
            # sub-tables and leave a blank line behind on unwrap.
            table.value._insert_after(shape.command, shape.args, tomlkit.item(list(prefix)))
        return str(doc.as_string())

    def restore(self, at: KeyPath, shape: EntryShape, snap: Snapshot) -> str | None:
        doc = self._fresh()
        parent, table = self._table(doc, at, shape)
        if snap.entry_raw is not None:
            parent[at[-1]] = self._value(snap.entry_raw)
            return str(doc.as_string())
        table[shape.command] = self._value(snap.command_raw)
        if snap.args_raw is None:
            if shape.args in table:
                table.remove(shape.args)
        elif shape.args in table:
            table[shape.args] = self._value(snap.args_raw)
        else:
            return None
        return str(doc.as_string())

    def unprefix(self, at: KeyPath, shape: EntryShape, command: str, drop: int) -> str:
        doc = self._fresh()
        _, table = self._table(doc, at, shape)
        if shape.args not in table:
            raise UnsupportedEntry("the entry has no args to unwrap")
        table[shape.command] = command
        array = table[shape.args]
        for _ in range(min(drop, len(array))):
            del array[0]
        return str(doc.as_string())

    def wrap_remote(
        self,
        at: KeyPath,
        shape: EntryShape,
        url_key: str | None,
        command: str,
        args: Sequence[str],
        drop: Sequence[str] = ("headers",),
    ) -> str:
        import tomlkit
        from tomlkit.items import InlineTable, Item, Table

        doc = self._fresh()
        if url_key is None:
            _, table = self._table(doc, at, shape)
            table[shape.command] = command
            table[shape.args] = tomlkit.item(list(args))
        else:
            parent = doc
            for key in at[:-1]:
                parent = parent[key]
            table = parent[at[-1]]
            if not isinstance(table, Table | InlineTable):
                raise UnsupportedEntry("the entry is not a table of its own (dotted keys are not edited)")
            if not isinstance(table.get(url_key), str):
                raise UnsupportedEntry(f"the entry's {url_key!r} is not a string")
            new_command = tomlkit.item(command)
            url = table.item(url_key)
            if isinstance(url, Item) and url.trivia.comment:
                # the URL line's comment stays on the line that replaces it
                new_command.trivia.comment_ws = url.trivia.comment_ws
                new_command.trivia.comment = url.trivia.comment
            # tomlkit has no public "insert after"; command and args take the URL's place
            table.value._insert_after(url_key, shape.command, new_command)
            table.value._insert_after(shape.command, shape.args, tomlkit.item(list(args)))
            table.remove(url_key)
        for key in drop:
            if key in table:
                table.remove(key)
        if isinstance(table.get("type"), str):
            table["type"] = "stdio"
        return str(doc.as_string())

    def rebuild_remote(
        self,
        at: KeyPath,
        shape: EntryShape,
        url_key: str,
        url: str,
        kind: str | None,
        header_path: Sequence[str],
        headers: Sequence[tuple[str, str]],
    ) -> str:
        import tomlkit
        from tomlkit.items import Item

        doc = self._fresh()
        _, table = self._table(doc, at, shape)
        if shape.args not in table:
            raise UnsupportedEntry(f"the entry has no {shape.args!r}")
        for key in (url_key, header_path[0]):
            if key in table:
                raise UnsupportedEntry(f"the entry already has a {key!r} beside its command")
        had_type = "type" in table
        if had_type and not isinstance(table.get("type"), str):
            raise UnsupportedEntry("the entry's 'type' is not a string")
        new_url = tomlkit.item(url)
        command = table.item(shape.command)
        if isinstance(command, Item) and command.trivia.comment:
            # the command line's comment stays on the line that replaces it
            new_url.trivia.comment_ws = command.trivia.comment_ws
            new_url.trivia.comment = command.trivia.comment
        # tomlkit has no public "insert after"; the URL (and type, headers) take the command's place
        anchor = shape.command
        if kind is not None and not had_type:
            table.value._insert_after(anchor, "type", tomlkit.item(kind))
            anchor = "type"
        table.value._insert_after(anchor, url_key, new_url)
        if headers:
            value: Any = tomlkit.inline_table()
            value.update(dict(headers))
            for key in reversed(header_path[1:]):
                outer = tomlkit.inline_table()
                outer[key] = value
                value = outer
            table.value._insert_after(url_key, header_path[0], value)
        table.remove(shape.command)
        table.remove(shape.args)
        if had_type:
            if kind is None:
                table.remove("type")
            else:
                table["type"] = kind
        return str(doc.as_string())


def flow_collection_end(text: str, start: int, opening: str, what: str) -> int:
    """The index just past the YAML flow collection (``[...]`` or ``{...}``) that opens at ``start``.

    Quoted scalars may hold brackets, so quotes (with ``\\`` escapes in double quotes) are skipped.
    ``what`` names the collection in the error.

    Raises:
        UnsupportedEntry: ``start`` is not ``opening``, or the collection never closes.
    """
    closing = {"[": "]", "{": "}"}[opening]
    if text[start : start + 1] != opening:
        raise UnsupportedEntry(f"{what} is not where YAML says")
    depth, i, quote = 0, start, ""
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == opening:
            depth += 1
        elif ch == closing:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise UnsupportedEntry(f"{what} never ends")
