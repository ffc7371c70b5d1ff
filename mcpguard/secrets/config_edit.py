"""Remove variables from one entry's ``env`` block in a JSON(C), YAML or TOML config, touching nothing else.

The same discipline as :mod:`mcpguard.clients.formats` (whose ``verify`` checks every result):
JSON and JSONC are edited as text at the spans our JSONC parser reports, so comments and layout
stay; YAML is edited as text at the positions ruamel.yaml records (whole lines of a block
mapping); TOML goes through tomlkit. Removing the last variable leaves an empty block (``{}``),
never a key with no value, which YAML would read as null.

Anything this module is not sure about (a YAML value over several lines, a flow-style mapping
that keeps other keys) raises :class:`~mcpguard.clients.errors.UnsupportedEntry`; the caller
leaves that secret where it is and says so, rather than guess.
"""

from __future__ import annotations

from typing import Any

from mcpguard.clients import jsonc
from mcpguard.clients.errors import UnsupportedEntry
from mcpguard.clients.formats import KeyPath, flow_collection_end, load, verify
from mcpguard.clients.table import Format


def remove_variables(text: str, fmt: Format, source: str, at: KeyPath, block: str, names: list[str]) -> str:
    """``text`` without the variables ``names`` in the mapping ``block`` of the entry at ``at``.

    The result is verified: it parses, the entry reads back as the old entry minus those
    variables, and nothing else in the file changed.

    Raises:
        UnsupportedEntry: The block is written in a form this module does not edit.
        VerifyFailed: The edit would not read back as intended (nothing should be written).
        ConfigParseError: ``text`` does not parse.
    """
    before = load(text, fmt, source)
    entry = _get(before.data, at)
    if not isinstance(entry, dict) or not isinstance(entry.get(block), dict):
        raise UnsupportedEntry(f"the entry has no {block!r} mapping")
    remaining = {k: v for k, v in entry[block].items() if k not in names}
    if len(remaining) == len(entry[block]):
        return text
    expected = dict(entry)
    expected[block] = remaining
    if fmt in ("json", "jsonc"):
        new_text = text
        for name in names:
            new_text = _json_remove(new_text, fmt == "jsonc", source, (*at, block), name)
    elif fmt == "yaml":
        new_text = _yaml_remove(text, at, block, names)
    else:
        new_text = _toml_remove(text, at, block, names)
    verify(before, new_text, fmt, source, at, expected)
    return new_text


def _get(data: Any, at: KeyPath) -> Any:
    node = data
    for key in at:
        node = node[key]
    return node


# -- JSON / JSONC ---------------------------------------------------------------------------------


def _json_remove(text: str, comments: bool, source: str, path: KeyPath, name: str) -> str:
    node = jsonc.parse(text, comments=comments, source=source)
    for key in path:
        if isinstance(key, int):
            if node.kind != "array":
                raise UnsupportedEntry("the entry is not where the file says")
            node = node.items[key]
        else:
            member = node.member(key) if node.kind == "object" else None
            if member is None:
                raise UnsupportedEntry("the entry is not where the file says")
            node = member.value
    if node.kind != "object":
        raise UnsupportedEntry("the environment block is not an object")
    member = node.member(name)
    if member is None:
        return text
    if len(node.members) == 1:
        return text[: node.start] + "{}" + text[node.end :]
    index = node.members.index(member)
    lines = _whole_lines(text, node, index)
    if lines is not None:
        return "".join(text[a:b] for a, b in lines)
    if index > 0:
        prev_end = node.members[index - 1].value.end
        comma = jsonc.skip_trivia(text, prev_end, comments=comments)
        start = prev_end if text[prev_end:comma].strip() == "" else comma
        return text[:start] + text[member.value.end :]
    return text[: member.key_start] + text[node.members[1].key_start :]


def _whole_lines(text: str, node: jsonc.Node, index: int) -> list[tuple[int, int]] | None:
    """The text to keep when the member sits on lines of its own (the usual layout), else None.

    Removing whole lines takes the member's own trailing comment with it and leaves its
    neighbours' comments where they were. When the last member goes and has no comma of its own,
    the comma before it goes too (strict JSON allows no trailing comma).
    """
    member = node.members[index]
    start = text.rfind("\n", 0, member.key_start) + 1
    if text[start : member.key_start].strip(" \t") != "":
        return None
    pos = member.value.end
    while pos < len(text) and text[pos] in " \t":
        pos += 1
    has_comma = text[pos : pos + 1] == ","
    if has_comma:
        pos += 1
        while pos < len(text) and text[pos] in " \t":
            pos += 1
    if text.startswith("//", pos):
        newline = text.find("\n", pos)
        pos = len(text) if newline < 0 else newline
    if text[pos : pos + 2] == "\r\n":
        end = pos + 2
    elif text[pos : pos + 1] == "\n":
        end = pos + 1
    else:
        return None
    last = index == len(node.members) - 1
    if has_comma or not last:
        return [(0, start), (end, len(text))]
    prev_end = node.members[index - 1].value.end
    comma = jsonc.skip_trivia(text, prev_end)
    if text[comma : comma + 1] != ",":
        return None
    return [(0, comma), (comma + 1, start), (end, len(text))]


# -- YAML ------------------------------------------------------------------------------------------


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _line_end(text: str, pos: int) -> int:
    nl = text.find("\n", pos)
    return len(text) if nl < 0 else nl + 1


def _yaml_scalar_end(text: str, start: int) -> int:
    """The end of a one-line scalar starting at ``start`` (plain, single- or double-quoted)."""
    ch = text[start : start + 1]
    if ch in ('"', "'"):
        i = start + 1
        while i < len(text) and text[i] != "\n":
            if ch == '"' and text[i] == "\\":
                i += 2
                continue
            if text[i] == ch:
                if ch == "'" and text[i + 1 : i + 2] == "'":
                    i += 2
                    continue
                return i + 1
            i += 1
        raise UnsupportedEntry("a quoted value spans several lines")
    if ch in ("|", ">", "&", "*", "!", "{", "[", "\n", ""):
        raise UnsupportedEntry("the value uses a YAML form mcpguard does not edit (block scalar, anchor, tag)")
    end = text.find("\n", start)
    segment = text[start : len(text) if end < 0 else end]
    cut = segment.find(" #")
    if cut >= 0:
        segment = segment[:cut]
    return start + len(segment.rstrip(" \t\r"))


def _yaml_remove(text: str, at: KeyPath, block: str, names: list[str]) -> str:
    from ruamel.yaml import YAML

    starts = [0]
    starts += [i + 1 for i, ch in enumerate(text) if ch == "\n"]

    def off(pos: tuple[int, int]) -> int:
        return starts[pos[0]] + pos[1]

    root: Any = YAML(typ="rt").load(text)
    entry = _get(root, at)
    mapping = entry[block]
    nl = "\r\n" if "\r\n" in text else "\n"
    removing = [n for n in names if n in mapping]
    if mapping.fa.flow_style():
        if len(removing) != len(mapping):
            raise UnsupportedEntry(f"the {block!r} mapping is written in flow style ({{...}})")
        start = off(entry.lc.value(block))
        end = flow_collection_end(text, start, "{", "the flow mapping")
        return text[:start] + "{}" + text[end:]
    spans = []
    for name in removing:
        key = off(mapping.lc.key(name))
        value = off(mapping.lc.value(name))
        spans.append((_line_start(text, key), _line_end(text, _yaml_scalar_end(text, value))))
    if len(removing) == len(mapping):
        key = off(entry.lc.key(block))
        colon = text.find(":", key + len(block))
        last = max(end for _, end in spans)
        if colon < 0 or "\n" in text[key:colon]:
            raise UnsupportedEntry(f"the {block!r} key is written in a form mcpguard does not edit")
        return text[: colon + 1] + " {}" + nl + text[last:]
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + text[end:]
    return text


# -- TOML ------------------------------------------------------------------------------------------


def _toml_remove(text: str, at: KeyPath, block: str, names: list[str]) -> str:
    import tomlkit

    doc = tomlkit.parse(text)
    table: Any = _get(doc, at)[block]
    for name in names:
        if name in table:
            del table[name]
    return str(doc.as_string())


def remove_from_inline_table(raw: str, block: str, names: list[str]) -> str:
    """A TOML inline table's text (as ``wraps.json`` keeps it) without the variables ``names`` in ``block``.

    Unwrap puts that text back whole; without this it would put the moved secrets back too.
    """
    import tomlkit

    doc = tomlkit.parse(f"x = {raw}\n")
    table: Any = doc["x"]
    inner = table.get(block)
    if inner is None:
        return raw
    for name in names:
        if name in inner:
            del inner[name]
    return str(table.as_string()).strip()
