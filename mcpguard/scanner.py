"""Tool-poisoning checks for MCP tool definitions and tool results.

Pinning tells us *that* a definition changed; this module tells the user *why it might be dangerous*
before they approve it: hidden characters the model reads but the user cannot see, text aimed at the
model rather than at the user, look-alike tool names and descriptions that hijack other servers' tools.

The shim imports this on its hot path, so it uses the standard library only, compiles its patterns on
first use and keeps the per-character work in C (``re``) wherever it can: a megabyte of ordinary text
costs a few dozen string searches.  False positives teach users to click "approve" without reading, so every pattern is
deliberately narrow and ordinary descriptions (any language, emoji, accented names) produce no findings.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from bisect import bisect_right
from collections.abc import Mapping
from functools import lru_cache

from mcpguard.values import Value

# The shim imports this module on the first tool result; typing and dataclasses would add 15 ms.
TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Any, Final, Literal, TypeAlias

__all__ = [
    "KINDS",
    "Finding",
    "Severity",
    "reveal",
    "scan_definition",
    "scan_result",
    "scan_text",
    "skeleton",
]

if TYPE_CHECKING:
    Severity: TypeAlias = Literal["info", "warning", "critical"]
else:
    Severity = str  # at run time only a name for what mypy knows as the three literals

_SEVERITIES: Final = frozenset({"info", "warning", "critical"})

KINDS: Final[tuple[str, ...]] = (
    "tag-characters",
    "zero-width",
    "bidi-control",
    "invisible",
    "private-use",
    "control-character",
    "terminal-escape",
    "model-directive",
    "sensitive-path",
    "secret-request",
    "confusable-name",
    "mixed-script-name",
    "shadowing",
    "scan-truncated",
)


class Finding(Value):
    """One reason to distrust a tool definition or result, phrased for the person approving it.

    Immutable and made of plain strings so findings can be pinned next to a fingerprint, written to the
    audit log and compared across runs without any translation layer.
    """

    __slots__ = ("kind", "severity", "where", "explanation", "excerpt")

    kind: Final[str]
    severity: Final[Severity]
    where: Final[str]
    explanation: Final[str]
    excerpt: Final[str]

    def __init__(self, kind: str, severity: Severity, where: str, explanation: str, excerpt: str) -> None:
        self.kind = kind
        self.severity = severity
        self.where = where
        self.explanation = explanation
        self.excerpt = excerpt

    def to_json(self) -> dict[str, str]:
        """Return a JSON-ready dict; the audit log and the GUI process exchange findings this way."""
        return {
            "kind": self.kind,
            "severity": self.severity,
            "where": self.where,
            "explanation": self.explanation,
            "excerpt": self.excerpt,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Finding:
        """Rebuild a finding read back from disk or another process.

        Unknown kinds are accepted so that logs written by a newer version still load; a bad severity
        or a missing field is rejected because the UI sorts and colours by them.
        """
        values: dict[str, str] = {}
        for key in ("kind", "severity", "where", "explanation", "excerpt"):
            value = data.get(key)
            if not isinstance(value, str):
                raise ValueError(f"finding field {key!r} must be a string, got {type(value).__name__}")
            values[key] = value
        severity = values["severity"]
        if severity not in _SEVERITIES:
            raise ValueError(f"unknown finding severity {severity!r}")
        from typing import cast  # not on the shim's path: findings are read back by the CLI and the tray

        return cls(values["kind"], cast(Severity, severity), values["where"], values["explanation"], values["excerpt"])


class _Regex:
    """A pattern compiled on first use.

    The shim imports this module on every start, but most starts see only definitions that are already
    pinned, so the ~20 ms of compiling the wording rules should be paid only by a scan that needs them.
    """

    __slots__ = ("source", "_compiled")

    def __init__(self, source: str) -> None:
        self.source = source
        self._compiled: re.Pattern[str] | None = None

    @property
    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self.source)
        return self._compiled

    def search(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self.compiled.search(text, pos, endpos)

    def match(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self.compiled.match(text, pos, endpos)

    def fullmatch(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self.compiled.fullmatch(text, pos, endpos)

    def finditer(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> Iterator[re.Match[str]]:
        return self.compiled.finditer(text, pos, endpos)

    def sub(self, replacement: str, text: str) -> str:
        return self.compiled.sub(replacement, text)


# --------------------------------------------------------------------------------------------------
# Hidden characters
# --------------------------------------------------------------------------------------------------

_ZERO_WIDTH: Final = frozenset({0x00AD, 0x180E, 0x200B, 0x200C, 0x200D, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xFEFF})
_BIDI: Final = frozenset({0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)})
# Default-ignorable or blank-looking characters that are not category Cf (letters, marks, a symbol).
_INVISIBLE_EXTRA: Final = frozenset(
    {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180F, 0x2800, 0x3164, 0xFFA0}
)

# Characters that are visible, assigned and frequent enough in ordinary text (punctuation, symbols,
# combining accents, CJK punctuation, emoji) that handing each one to Python would dominate the scan.
# tests/test_scanner.py checks that _classify() never flags anything listed here.
_VISIBLE: Final = (
    "\xa1-\xac\xae-\xbf\xd7\xf7"  # Latin-1 punctuation and symbols, but not the soft hyphen
    "\u0300-\u034e\u0350-\u036f"  # combining accents, but not U+034F COMBINING GRAPHEME JOINER
    "\u064b-\u065f\u0900-\u0903\u093a-\u094f"  # Arabic vowel marks, Devanagari vowel signs
    "\u2010-\u2027\u2030-\u205e\u20a0-\u20c0"  # dashes, quotes, bullets, ellipsis, currency
    "\u2190-\u2426\u2500-\u2775\u2794-\u27ff"  # arrows, maths, technical, boxes, shapes, dingbats
    "\u3001-\u3003\u3008-\u3020\u30fb"  # CJK punctuation and brackets, katakana middle dot
    "\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"  # fullwidth punctuation
    "\U0001f000-\U0001faff"  # emoji and pictographs
)
# Every character _classify() can flag is matched by one of these two, so the scan can jump over
# ordinary text in C.  \w covers letters and digits and the whitespace list is spelled out because \s
# would also swallow the controls \x1c-\x1f and \x85.  The Hangul fillers are letters (\w) and so
# need the slower second pattern, used only when the cheap _FILLERS check finds one.
_NOT_HIDDEN: Final = "\\w\t\n\r\x20-\x7e\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000" + _VISIBLE
_CANDIDATE: Final = _Regex(f"[^{_NOT_HIDDEN}][^{_NOT_HIDDEN}]*")
_FILLERS: Final = _Regex("[\u115f\u1160\u3164\uffa0]")
_CANDIDATE_WITH_FILLERS: Final = _Regex(f"(?:[\u115f\u1160\u3164\uffa0]|[^{_NOT_HIDDEN}])+")
# Past this many hidden runs in one string the findings only say "many more"; it bounds the work a
# hostile megabyte of alternating zero-width characters can cause.
_SPAN_LIMIT: Final = 2000


def _has_candidates(text: str) -> bool:
    return _CANDIDATE.search(text) is not None or _FILLERS.search(text) is not None


_TERMINAL: Final = _Regex(
    "\x1b\\[[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"  # CSI: colours, cursor moves, erase line
    "|\x9b[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"  # 8-bit CSI
    "|[\x1b]\\][^\x07\x1b\x9c]{0,4096}(?:\x07|\x1b\\\\|\x9c)?"  # OSC: titles, OSC 8 links, OSC 52 clipboard
    "|\x9d[^\x07\x1b\x9c]{0,4096}(?:\x07|\x1b\\\\|\x9c)?"  # 8-bit OSC
    "|\x1b[P^_X][^\x1b\x9c]{0,4096}(?:\x1b\\\\|\x9c)?"  # DCS, PM, APC, SOS strings
    "|\x1b[\x20-\x2f]*[\x30-\x7e]"  # two-byte escapes: reset, save/restore cursor, charsets
)

_FLAG_TAGS: Final = _Regex("[\U000e0030-\U000e0039\U000e0061-\U000e007a]{2,7}\U000e007f")

# Emoji sequences and Persian text use a selector or joiner every few characters.  _is_benign() lets
# them through, but one Python call each would dominate the scan, so the clear-cut cases are masked in
# C first.  Every case matched here is one _is_benign() also accepts (tests/test_scanner.py checks).
_EMOJI: Final = (
    "\u00a9\u00ae\u203c\u2049\u2122\u2139\u2190-\u21ff\u2300-\u23ff\u24c2\u25a0-\u27bf"
    "\u2934\u2935\u2b05-\u2b07\u2b1b\u2b1c\u2b50\u2b55\u3030\u303d\u3297\u3299\U0001f000-\U0001faff"
)
_ARABIC_LETTERS: Final = "\u0620-\u063a\u0641-\u064a\u066e\u066f\u0671-\u06d3\u06d5\u06ee\u06ef\u06fa-\u06fc\u06ff"
# Each alternative starts with the glue character itself and looks behind afterwards, which lets sre
# jump straight to the candidates instead of trying every position.
_GLUE: Final = _Regex(
    f"\ufe0f(?<=[{_EMOJI}]\ufe0f)(?=[\\w\\s\x21-\x7e{_EMOJI}\u200c\u200d]|\\Z)(?![\u115f\u1160\u3164\uffa0])"
    f"|\u200d(?<=[{_EMOJI}\ufe0f]\u200d)(?=[{_EMOJI}])"
    f"|\u200c(?<=[{_ARABIC_LETTERS}]\u200c)(?=[{_ARABIC_LETTERS}])"
)

_C0_NAMES: Final = (
    "NUL SOH STX ETX EOT ENQ ACK BEL BS HT LF VT FF CR SO SI DLE DC1 DC2 DC3 DC4 NAK SYN ETB CAN EM SUB ESC FS GS RS US"
).split()
_C1_NAMES: Final = (
    "PAD HOP BPH NBH IND NEL SSA ESA HTS HTJ VTS PLD PLU RI SS2 SS3 "
    "DCS PU1 PU2 STS CCH MW SPA EPA SOS SGCI SCI CSI ST OSC PM APC"
).split()

_KIND_CACHE: dict[str, str | None] = {}
_MARKER_CACHE: dict[str, str] = {}
_CACHE_LIMIT: Final = 8192


def _classify(ch: str) -> str | None:
    cp = ord(ch)
    if 0xE0000 <= cp <= 0xE007F:
        return "tag-characters"
    if cp in _BIDI:
        return "bidi-control"
    if cp in _ZERO_WIDTH:
        return "zero-width"
    if 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF or cp in _INVISIBLE_EXTRA:
        return "invisible"
    category = unicodedata.category(ch)
    if category == "Cc":
        return None if ch in "\t\n\r" else "control-character"
    if category == "Co":
        return "private-use"
    if category == "Cf" or category == "Cs":
        return "invisible"
    if category == "Cn":
        # Python's Unicode tables lag behind new emoji; unassigned code points in the emoji blocks are
        # far more likely a recent emoji than a smuggling trick.
        return None if 0x1F000 <= cp <= 0x1FAFF else "invisible"
    return None


def _char_kind(ch: str) -> str | None:
    kind = _KIND_CACHE.get(ch, "")
    if kind != "":
        return kind
    kind = _classify(ch)
    if len(_KIND_CACHE) < _CACHE_LIMIT:
        _KIND_CACHE[ch] = kind
    return kind


def _is_variation_selector(ch: str) -> bool:
    cp = ord(ch)
    return 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF


def _joins_visibly(ch: str) -> bool:
    """Whether a ZWJ/ZWNJ next to this character is doing real work (emoji sequences, Indic, Persian)."""
    if ch == "\ufe0f":
        return True
    if ord(ch) <= 0x7F or _char_kind(ch) is not None:
        return False
    return unicodedata.category(ch)[0] in "LMS" or 0x1F000 <= ord(ch) <= 0x1FAFF  # incl. emoji newer than Python


def _is_benign(text: str, start: int, end: int, kind: str) -> bool:
    """Let through the few hidden characters that ordinary emoji and scripts need.

    Only a single selector or joiner sitting between visible non-ASCII characters qualifies; smuggling
    needs many of them in a row or next to ASCII, and that stays flagged.
    """
    if start == 0:
        return False
    before = text[start - 1]
    if kind == "invisible":
        if end - start != 1 or not _is_variation_selector(text[start]):
            return False
        if before in "0123456789#*":  # keycaps: digit, VS16, COMBINING ENCLOSING KEYCAP
            return end < len(text) and text[end] == "\u20e3"
        return ord(before) > 0x7F and not before.isspace() and _char_kind(before) is None
    if kind == "zero-width":
        return (
            end - start == 1
            and text[start] in "\u200c\u200d"
            and end < len(text)
            and _joins_visibly(before)
            and _joins_visibly(text[end])
        )
    if kind == "tag-characters":  # subdivision flags such as England: BLACK FLAG + "gbeng" + CANCEL TAG
        return before == "\U0001f3f4" and _FLAG_TAGS.fullmatch(text, start, end) is not None
    return False


def _add_span(spans: list[tuple[int, int, str]], start: int, end: int, kind: str) -> None:
    if spans and spans[-1][2] == kind and spans[-1][1] == start:
        spans[-1] = (spans[-1][0], end, kind)
    else:
        spans.append((start, end, kind))


def _hidden_spans(text: str, limit: int | None = None, *, mask: bool = True) -> list[tuple[int, int, str]]:
    """Find maximal runs of same-kind hidden characters, and whole terminal escape sequences."""
    spans: list[tuple[int, int, str]] = []
    search = (_CANDIDATE_WITH_FILLERS if _FILLERS.search(text) else _CANDIDATE).search
    char_kind = _char_kind
    # Runs are located in a copy where benign glue is replaced by a plain letter (same length, so
    # positions agree); characters are always read from the real text.
    masked = text
    if mask and ("\ufe0f" in text or "\u200d" in text or "\u200c" in text):
        masked = _GLUE.sub("e", text)
    pos = 0
    while (match := search(masked, pos)) is not None:
        i, run_end = match.span()
        if run_end - i == 1 and text[i] not in "\x1b\x9b\x9d":  # the common case: one stray character
            kind = char_kind(text[i])
            if kind is not None and not _is_benign(text, i, run_end, kind):
                _add_span(spans, i, run_end, kind)
                if limit is not None and len(spans) >= limit:
                    break
            pos = run_end
            continue
        group_kind: str | None = None
        group_start = i
        while i < run_end:
            ch = text[i]
            if ch == "\x1b" or ch == "\x9b" or ch == "\x9d":
                term = _TERMINAL.match(text, i)
                if term is not None:
                    if group_kind is not None and not _is_benign(text, group_start, i, group_kind):
                        _add_span(spans, group_start, i, group_kind)
                    group_kind = None
                    _add_span(spans, i, term.end(), "terminal-escape")
                    i = term.end()
                    group_start = i
                    continue
            kind = char_kind(ch)
            if kind != group_kind:
                if group_kind is not None and not _is_benign(text, group_start, i, group_kind):
                    _add_span(spans, group_start, i, group_kind)
                group_kind = kind
                group_start = i
            i += 1
        if group_kind is not None and not _is_benign(text, group_start, i, group_kind):
            _add_span(spans, group_start, i, group_kind)
        pos = max(run_end, i)
        if limit is not None and len(spans) >= limit:
            break
    return spans


def _marker(ch: str) -> str:
    marker = _MARKER_CACHE.get(ch)
    if marker is not None:
        return marker
    cp = ord(ch)
    if cp == 0x1B:
        marker = "⟦ESC⟧"
    else:
        if cp < 0x20:
            name = _C0_NAMES[cp]
        elif cp == 0x7F:
            name = "DEL"
        elif 0x80 <= cp <= 0x9F:
            name = _C1_NAMES[cp - 0x80]
        else:
            category = unicodedata.category(ch)
            fallback = {"Co": "PRIVATE USE", "Cs": "SURROGATE"}.get(category, "UNASSIGNED")
            name = unicodedata.name(ch, fallback)
        marker = f"⟦U+{cp:04X} {name}⟧"
    if len(_MARKER_CACHE) < _CACHE_LIMIT:
        _MARKER_CACHE[ch] = marker
    return marker


def _tag_ascii(tags: str) -> str:
    return "".join(chr(ord(ch) - 0xE0000) for ch in tags if 0xE0020 <= ord(ch) <= 0xE007E)


def _reveal_span(out: list[str], chunk: str, kind: str) -> None:
    if kind == "tag-characters":
        ascii_run: list[str] = []
        for ch in chunk:
            if 0xE0020 <= ord(ch) <= 0xE007E:
                ascii_run.append(chr(ord(ch) - 0xE0000))
                continue
            if ascii_run:
                out.append(f"⟦TAG:{''.join(ascii_run)}⟧")
                ascii_run.clear()
            out.append(_marker(ch))
        if ascii_run:
            out.append(f"⟦TAG:{''.join(ascii_run)}⟧")
    elif kind == "terminal-escape":
        # The printable body of a sequence is already visible; only its control bytes need markers.
        for ch in chunk:
            out.append(ch if _char_kind(ch) is None else _marker(ch))
    else:
        out.extend(_marker(ch) for ch in chunk)


def _reveal_with(text: str, spans: list[tuple[int, int, str]]) -> str:
    if not spans:
        return text
    out: list[str] = []
    pos = 0
    for start, end, kind in spans:
        out.append(text[pos:start])
        _reveal_span(out, text[start:end], kind)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def reveal(text: str) -> str:
    """Rewrite hidden characters as visible markers so the user reads exactly what the model reads.

    Approving a definition is only meaningful if nothing in it is invisible: zero-width and format
    characters become ``⟦U+200B ZERO WIDTH SPACE⟧``, tag characters show the ASCII they smuggle as
    ``⟦TAG:...⟧`` and control characters become ``⟦ESC⟧`` / ``⟦U+0007 BEL⟧``.  Newlines, tabs and all
    ordinary text, in any script and including emoji sequences, are returned unchanged.
    """
    if not _has_candidates(text):
        return text
    return _reveal_with(text, _hidden_spans(text))


# --------------------------------------------------------------------------------------------------
# Text aimed at the model
# --------------------------------------------------------------------------------------------------


class _Rule:
    """A wording check.

    Running a dozen alternation-heavy regexes over a megabyte costs far more than the 100 ms budget,
    so each rule lists the literal anchors every hit must contain.  ``str.find`` locates them in C and
    the regex only runs in a window of ``before``/``after`` characters around each one; an anchor with
    a ``(0, 0)`` window starts every hit, so the regex is simply tried right there.
    """

    __slots__ = ("kind", "severity", "pattern", "explanation", "anchors", "in_results", "words")

    def __init__(
        self,
        kind: str,
        severity: Severity,
        pattern: _Regex,
        explanation: str,
        anchors: tuple[tuple[str, int, int], ...],
        in_results: bool = True,
    ) -> None:
        self.kind = kind
        self.severity: Severity = severity
        self.pattern = pattern
        self.explanation = explanation
        self.anchors = anchors
        """Empty: the pattern starts with a literal, so the whole text is scanned."""
        self.in_results = in_results
        self.words = tuple(anchor for anchor, _, _ in anchors)


def _at(*words: str) -> tuple[tuple[str, int, int], ...]:
    """Anchors that start every hit."""
    return tuple((word, 0, 0) for word in words)


def _near(before: int, after: int, *words: str) -> tuple[tuple[str, int, int], ...]:
    """Anchors somewhere inside a hit that starts at most ``before`` and ends ``after`` characters away."""
    return tuple((word, before, after) for word in words)


_USER = r"(?:the\s+|your\s+|this\s+)?(?:user|human|person)s?\b"
_NOT = r"(?:do\s+not|don['’]?t|never|must\s+not|should\s+not|shouldn['’]?t)\s+(?:ever\s+)?"

# Patterns are written in lower case: they run on lower-cased text, never with IGNORECASE.
_RULES: Final[tuple[_Rule, ...]] = (
    _Rule(
        "model-directive",
        "critical",
        _Regex(
            r"(?:ignore|disregard|forget|override|bypass)\s+(?:"
            r"(?:all|any|every)\s+(?:of\s+)?(?:the\s+|your\s+|my\s+)?"
            r"(?:(?:previous|prior|above|earlier|preceding|other|former|system|safety)\s+)?"
            r"(?:instructions?|prompts?|directions|directives|guidelines|guardrails)"
            r"|(?:the\s+|your\s+|my\s+)?(?:previous|prior|above|earlier|preceding|former|original|system|safety)"
            r"\s+(?:instructions?|prompts?|rules|directions|directives|guidelines|guardrails|policies|constraints)"
            r"|the\s+above|everything\s+above)\b"
        ),
        "The text tells the model to ignore its earlier instructions, the classic prompt-injection opener.",
        _at("ignore", "disregard", "forget", "override", "bypass"),
    ),
    _Rule(
        "model-directive",
        "critical",
        _Regex(
            rf"{_NOT}(?:tell|inform|notify|alert|warn)\s+{_USER}"
            rf"|{_NOT}(?:mention|show|reveal|disclose|display|report|say)\s+"
            rf"(?:this|that|it|these|anything|any\s+of\s+this)(?:\s+[\w'’-]+){{0,2}}?\s+to\s+{_USER}"
            rf"|without\s+(?:ever\s+)?(?:telling|informing|asking|notifying|alerting|warning|consulting|letting)"
            rf"\s+{_USER}"
            rf"|(?:hide|conceal|keep)\s+(?:this|it|that|these|them)(?:\s+\w+)?\s+from\s+{_USER}"
            rf"|the\s+user\s+(?:must|should)\s+not\s+(?:know|see|notice|be\s+told|find\s+out)\b"
        ),
        "The text tells the model to keep something from the user, which an honest tool never needs.",
        _near(110, 40, "user", "human", "person"),
    ),
    _Rule(
        "model-directive",
        "critical",
        _Regex(
            r"<\s*/?\s*(?:important|system|instructions?|system[\s_-]?(?:prompt|message|instructions?)|secret"
            r"|hidden|admin|critical|(?:assistant|model|ai|tool)[\s_-]?instructions?)\s*>"
            r"|<\|(?:im_start|im_end|system|endoftext|start_header_id|end_header_id|eot_id)\|>"
            r"|\[/?inst\]|<</?sys>>|\[(?:system|instructions?)\]"
        ),
        "The text uses pseudo-tags or chat-template tokens to pass itself off as system instructions.",
        _at("<", "["),
    ),
    _Rule(
        "model-directive",
        "warning",
        _Regex(
            r"(?:your|my|the\s+assistant['’]?s|the\s+model['’]?s|new|original|hidden)\s+system\s+prompt"
            r"|system\s+prompt\s+(?:says|tells|requires|overrides?|instructs?|is\s+overridden)"
            r"|(?:reveal|print|output|repeat|show|leak|send|include|return|dump)\s+(?:[\w'’-]+\s+){0,2}?"
            r"system\s+prompt"
        ),
        "The text talks to the model about its system prompt, which tool descriptions have no reason to do.",
        _near(70, 40, "prompt"),
    ),
    _Rule(
        "model-directive",
        "warning",
        _Regex(
            r"you\s+(?:must|need\s+to|have\s+to|are\s+required\s+to|should\s+always)\s+"
            r"(?:first\s+|always\s+|also\s+|now\s+|immediately\s+)?"
            r"(?:read|call|send|invoke|fetch|upload|forward|email|post|exfiltrate|retrieve|access|cat|open"
            r"|copy|transmit)\b"
            r"|before\s+(?:using|calling|invoking|running|executing)\s+(?:this|the|any|each|every)\s+"
            r"(?:[\w-]+\s+)?(?:tool|function)\b[^\n]{0,100}?\b(?:read|open|cat|fetch|load|send|pass|include"
            r"|upload|call)\b"
        ),
        "The text orders the model to take extra steps (reading or sending something) before using the tool.",
        _at("you", "before"),
    ),
    _Rule(
        "model-directive",
        "warning",
        _Regex(
            r"this\s+is\s+(?:very|extremely|really|critically|super|absolutely|vitally)\s+important\b"
            r"|very\s+very\s+important\b"
        ),
        "The text presses urgency on the model, a common way to make injected instructions stick.",
        _near(60, 10, "important"),
    ),
    _Rule(
        "model-directive",
        "warning",
        _Regex(
            r"as\s+an?\s+(?:ai|llm|large\s+language\s+model|language\s+model|ai\s+assistant)\b"
            r"|assistant\s+(?:must|shall|is\s+required\s+to|has\s+to|needs\s+to)\b"
            r"|note\s+(?:to|for)\s+(?:the\s+)?(?:ai|llm|assistant|model)\b"
        ),
        "The text addresses the AI model directly instead of describing what the tool does.",
        _at("as ", "assistant", "note"),
    ),
    _Rule(
        "model-directive",
        "warning",
        _Regex(r"(?:secretly|covertly|surreptitiously|stealthily|conceal(?:s|ed|ing|ment)?)\b"),
        "The text asks for secrecy, which has no place in an honest tool description.",
        _at("secretly", "covert", "surreptitious", "stealth", "conceal"),
    ),
    _Rule(
        "sensitive-path",
        "warning",
        # Starts with a literal dot, so sre's own prefix search finds the candidates: no anchors needed.
        _Regex(
            r"\.(?:ssh|aws|cursor|gnupg|kube|docker)\b(?:[/\\][\w.-]+)?"
            r"|\.env(?:rc|\.[a-z]+)?\b"
            r"|\.(?:netrc|git-credentials|pgpass|bash_history|zsh_history)\b"
            r"|\.config[/\\]claude\b"
        ),
        "",
        (),
        in_results=False,
    ),
    _Rule(
        "sensitive-path",
        "warning",
        _Regex(
            r"id_(?:rsa|dsa|ecdsa|ed25519)\b"
            r"|aws_secret_access_key\b"
            r"|/etc/(?:passwd|shadow|sudoers|master\.passwd)\b"
            r"|private[\s_-]?keys?\b"
            r"|(?:claude_desktop_config|mcp)\.json\b"
            r"|(?:application\s+support|appdata[/\\]roaming)[/\\]claude\b"
        ),
        "",
        _at("id_", "aws_secret", "/etc/", "private") + _near(25, 10, ".json", "claude"),
        in_results=False,
    ),
    _Rule(
        "secret-request",
        "warning",
        _Regex(
            r"(?:pass|send|include|provide|supply|attach|append|forward|share|paste|give|put|embed|upload|leak"
            r"|copy)\s+(?:[\w'’.-]+\s+){0,3}?(?:"
            r"api[\s_-]?keys?|access[\s_-]?(?:tokens?|keys?)|auth(?:entication|orization)?[\s_-]?tokens?"
            r"|bearer[\s_-]?tokens?|oauth[\s_-]?tokens?|refresh[\s_-]?tokens?|session[\s_-]?(?:tokens?|cookies?)"
            r"|personal[\s_-]access[\s_-]tokens?"
            r"|(?:github|gh|gitlab|slack|openai|anthropic|aws|stripe|npm|pypi|discord|telegram)[\s_-]tokens?"
            r"|(?:your|their|user['’]?s?)\s+tokens?"
            r"|passwords?|passphrases?|passcodes?|credentials?|secrets?|secret[\s_-]?(?:access[\s_-]?)?keys?"
            r"|private[\s_-]?keys?|ssh[\s_-]?keys?|client[\s_-]?secrets?|seed\s+phrases?|recovery\s+(?:phrase|codes?)"
            r")\b(?![\s_-]*(?:reset|polic|strength|hint|manager|field|length|expir|rotation|prompt))"
        ),
        "The text asks the model to hand over a secret (API key, token, password or credentials), which "
        "would leak it to this server.",
        _near(100, 50, "key", "token", "passw", "passp", "passc", "credential", "secret", "phrase", "codes"),
        in_results=False,
    ),
)

_SENSITIVE_EXPLANATION: Final = (
    "The text points at {paths}, where secrets or AI-client configuration usually live, and a tool has no "
    "reason to steer the model there."
)

_HIDDEN_EXPLANATIONS: Final[dict[str, tuple[Severity, str]]] = {
    "zero-width": (
        "warning",
        "The text hides {count} zero-width character{s} ({names}); such characters can split words to slip "
        "past filters or carry a hidden message{more}.",
    ),
    "bidi-control": (
        "critical",
        "The text contains {count} bidirectional control character{s} ({names}); these reorder how text is "
        "displayed, so the user can read something different from what the model reads{more}.",
    ),
    "invisible": (
        "warning",
        "The text hides {count} invisible character{s} ({names}); they show no glyph, yet the model reads "
        "them, so they can carry data or instructions{more}.",
    ),
    "private-use": (
        "warning",
        "The text contains {count} private-use character{s} ({names}); these have no agreed meaning or "
        "glyph and can carry data the user cannot read{more}.",
    ),
    "control-character": (
        "warning",
        "The text contains {count} control character{s} ({names}); these have no place in tool text and "
        "can garble what terminals and logs show{more}.",
    ),
}

# Per string, per kind: enough to show the pattern without flooding the approval dialog.
_MAX_PER_KIND: Final = 10
_EXCERPT_MAX: Final = 120


_STYLED: Final = _Regex("[\u24b6-\u24e9\uff01-\uff5e\U0001d400-\U0001d7ff]")


@lru_cache(maxsize=1)
def _unstyle_table() -> dict[int, str]:
    """Fullwidth, circled and mathematical letters folded to ASCII, one character for one character.

    Only these 1:1 foldings are used (not full NFKC, which can change the length), so positions found
    in the folded text still point at the same characters of the original.
    """
    table: dict[int, str] = {}
    for cp in [*range(0x24B6, 0x24EA), *range(0xFF01, 0xFF5F), *range(0x1D400, 0x1D800)]:
        folded = unicodedata.normalize("NFKC", chr(cp))
        if len(folded) == 1 and folded.isascii():
            table[cp] = folded
    return table


def _lower_same_length(text: str) -> str:
    """Lower-case for the wording rules without moving any position; styled letters fold to ASCII too."""
    if _STYLED.search(text) is not None:
        text = text.translate(_unstyle_table())
    lowered = text.lower()
    if len(lowered) != len(text):  # only U+0130 grows when lower-cased
        lowered = text.replace("\u0130", "i").lower()
    return lowered


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _left_boundary_ok(text: str, start: int) -> bool:
    """Reject hits that start in the middle of a word (``process.env``, ``xignore``)."""
    if start == 0:
        return True
    first = text[start]
    if not (_is_word_char(first) or first == "."):
        return True
    return not _is_word_char(text[start - 1])


def _clip_markers(before: str, after: str) -> tuple[str, str]:
    """Avoid showing half a ``⟦...⟧`` marker where the excerpt window cuts through one."""
    close = before.find("⟧")
    if close != -1 and "⟦" not in before[:close]:
        before = before[close + 1 :]
    opening = after.rfind("⟦")
    if opening != -1 and "⟧" not in after[opening:]:
        after = after[:opening]
    return before, after


def _reveal_range(text: str, spans: list[tuple[int, int, str]], start: int, end: int) -> str:
    out: list[str] = []
    pos = start
    for span_start, span_end, kind in spans:
        if span_end <= start or span_start >= end:
            continue
        cut_start, cut_end = max(span_start, start), min(span_end, end)
        out.append(text[pos:cut_start])
        _reveal_span(out, text[cut_start:cut_end], kind)
        pos = cut_end
    out.append(text[pos:end])
    return "".join(out)


def _excerpt(text: str, start: int, end: int) -> str:
    """Show the hit with some context, revealed, in about _EXCERPT_MAX characters on one line.

    Hidden characters are found in a window wider than anything shown, so an emoji sequence cut at the
    window's edge cannot turn into a false marker inside the excerpt.
    """
    end = min(end, start + 2 * _EXCERPT_MAX)
    offset = max(0, start - _EXCERPT_MAX - 8)
    window = text[offset : min(len(text), end + _EXCERPT_MAX + 8)]
    start, end = start - offset, end - offset
    spans = _hidden_spans(window) if _has_candidates(window) else []
    hit = _reveal_range(window, spans, start, end)
    if len(hit) >= _EXCERPT_MAX:
        excerpt = hit[: _EXCERPT_MAX - 2]
        # Cut inside a marker (a long ⟦TAG:...⟧ run): close it, so the smuggled text stays readable.
        excerpt += "…⟧" if excerpt.rfind("⟦") > excerpt.rfind("⟧") else "…"
    else:
        room = _EXCERPT_MAX - len(hit)
        before = _reveal_range(window, spans, max(0, start - room), start)
        after = _reveal_range(window, spans, end, min(len(window), end + room))
        left = min(len(before), max(room // 2, room - len(after)))
        right = min(len(after), room - left)
        cut_before, cut_after = _clip_markers(before[len(before) - left :], after[:right])
        head = "…" if left < len(before) or offset + start - room > 0 else ""
        tail = "…" if right < len(after) or offset + end + room < len(text) else ""
        excerpt = f"{head}{cut_before}{hit}{cut_after}{tail}"
    return " ".join(excerpt.split())


def _char_names(chunks: Iterable[str], limit: int = 3) -> str:
    seen: dict[str, None] = {}
    for chunk in chunks:
        for ch in chunk:
            if ch not in seen:
                seen[ch] = None
    names = [_marker(ch).strip("⟦⟧") for ch in list(seen)[:limit]]
    if len(seen) > limit:
        names.append("…")
    return ", ".join(names)


def _terminal_detail(chunk: str) -> str:
    details: list[str] = []
    if "\x1b]8;" in chunk or "\x9d8;" in chunk:
        details.append("an OSC 8 hyperlink")
    if "\x1b]52;" in chunk or "\x9d52;" in chunk:
        details.append("an OSC 52 clipboard write")
    return f" (including {' and '.join(details)})" if details else ""


class _Cleaned:
    """The text with hidden spans cut out, so a zero-width space inside "ignore" cannot dodge the rules.

    Positions found in the cleaned text map back to the original so excerpts show the hidden characters.
    """

    def __init__(self, text: str, spans: list[tuple[int, int, str]]) -> None:
        self.clean_starts: list[int] = [0]
        self.orig_starts: list[int] = [0]
        if not spans:
            self.text = text
            return
        parts: list[str] = []
        pos = 0
        clean_len = 0
        for start, end, _ in spans:
            parts.append(text[pos:start])
            clean_len += start - pos
            pos = end
            self.clean_starts.append(clean_len)
            self.orig_starts.append(end)
        parts.append(text[pos:])
        self.text = "".join(parts)

    def original(self, index: int) -> int:
        segment = bisect_right(self.clean_starts, index) - 1
        return self.orig_starts[segment] + index - self.clean_starts[segment]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        if end <= start:
            return self.original(start), self.original(start)
        return self.original(start), self.original(end - 1) + 1


def _same_trick(text: str, gap_start: int, gap_end: int) -> bool:
    return gap_end - gap_start <= _EXCERPT_MAX and "\n" not in text[gap_start:gap_end]


def _hidden_findings(
    text: str, where: str, spans: list[tuple[int, int, str]], *, many: bool
) -> list[tuple[int, Finding]]:
    by_kind: dict[str, list[tuple[int, int]]] = {}
    for start, end, kind in spans:
        runs = by_kind.setdefault(kind, [])
        # "\x1b[8mhidden\x1b[0m" or an OSC 8 link is one trick in two sequences: report it once.
        if kind == "terminal-escape" and runs and _same_trick(text, runs[-1][1], start):
            runs[-1] = (runs[-1][0], end)
        else:
            runs.append((start, end))
    found: list[tuple[int, Finding]] = []
    for kind, runs in by_kind.items():
        shown = runs[:_MAX_PER_KIND]
        hidden_more = len(runs) - len(shown)
        for index, (start, end) in enumerate(shown):
            more = ""
            if (hidden_more or many) and index == len(shown) - 1:
                more = " (many more like it not listed)" if many else f" ({hidden_more} more like it not listed)"
            chunk = text[start:end]
            severity: Severity
            if kind == "tag-characters":
                severity = "critical"
                spelled = _tag_ascii(chunk)
                if len(spelled) > 200:
                    spelled = spelled[:199] + "…"
                explanation = (
                    f"Invisible Unicode tag characters spell out “{spelled}”, text the model reads but the "
                    f"user never sees{more}."
                    if spelled
                    else f"The text hides invisible Unicode tag characters{more}."
                )
            elif kind == "terminal-escape":
                severity = "critical"
                explanation = (
                    f"Terminal escape sequences{_terminal_detail(chunk)} can hide text or rewrite what the "
                    f"terminal shows, and some plant links or overwrite the clipboard{more}."
                )
            else:
                severity, template = _HIDDEN_EXPLANATIONS[kind]
                count = end - start
                explanation = template.format(
                    count=count, s="s" if count > 1 else "", names=_char_names([chunk]), more=more
                )
            found.append((start, Finding(kind, severity, where, explanation, _excerpt(text, start, end))))
    return found


def _rule_hits(rule: _Rule, lowered: str, limit: int) -> list[tuple[int, int]]:
    """Return up to ``limit`` hits per anchor, in text order, each a real match on the whole text."""
    hits: set[tuple[int, int]] = set()
    pattern = rule.pattern
    size = len(lowered)
    for word in rule.words:
        if word in lowered:
            break
    else:
        if rule.words:
            return []  # the usual case for short strings: no anchor at all, so no per-anchor loop
    if not rule.anchors:
        for match in pattern.finditer(lowered):
            if _left_boundary_ok(lowered, match.start()):
                hits.add(match.span())
                if len(hits) >= limit:
                    break
    for anchor, before, after in rule.anchors:
        found = 0
        pos = lowered.find(anchor)
        while pos != -1 and found < limit:
            if before == 0 and after == 0:
                starts: Iterable[int] = (pos,)
            else:
                window = pattern.finditer(lowered, max(0, pos - before), min(size, pos + len(anchor) + after))
                starts = [match.start() for match in window]
            for start in starts:
                # Re-match on the whole text: a window's edge would otherwise satisfy a trailing \b.
                full = pattern.match(lowered, start)
                if full is not None and _left_boundary_ok(lowered, start):
                    hits.add(full.span())
                    found += 1
            pos = lowered.find(anchor, pos + 1)
    return _drop_overlaps(hits)


def _drop_overlaps(hits: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Keep hits in text order, dropping any that overlap an earlier one (one path, one mention)."""
    ordered: list[tuple[int, int]] = []
    for start, end in sorted(hits):
        if not ordered or start >= ordered[-1][1]:
            ordered.append((start, end))
    return ordered


def _with_home_prefix(text: str, start: int, end: int) -> str:
    """Show ``~/.ssh`` rather than ``.ssh``: hits start at the dot, but the user knows the full form."""
    if text[start - 2 : start] in ("~/", "~\\"):
        start -= 2
    return text[start:end]


def _rule_findings(
    text: str, where: str, cleaned: _Cleaned, lowered: str, *, in_results: bool
) -> list[tuple[int, Finding]]:
    found: list[tuple[int, Finding]] = []
    directive_spans: list[tuple[int, int]] = []
    sensitive: list[tuple[int, int]] = []
    for rule in _RULES:
        if in_results and not rule.in_results:
            continue
        if rule.kind == "sensitive-path":  # gathered from both rules into a single finding below
            sensitive.extend(_rule_hits(rule, lowered, 4))
            continue
        hits = _rule_hits(rule, lowered, 1)
        if rule.kind == "model-directive":
            # One finding per rule per string, and none for text another directive already covers.
            hits = [(s, e) for s, e in hits if not any(ds < e and s < de for ds, de in directive_spans)]
            if hits:
                directive_spans.append(hits[0])
        if hits:
            found.append(_rule_finding(text, where, cleaned, rule, rule.explanation, hits[0]))
    if sensitive:
        sensitive = _drop_overlaps(sensitive)
        paths = list(dict.fromkeys(_with_home_prefix(cleaned.text, s, e) for s, e in sensitive))
        explanation = _SENSITIVE_EXPLANATION.format(paths=", ".join(paths[:3]))
        rule = next(rule for rule in _RULES if rule.kind == "sensitive-path")
        found.append(_rule_finding(text, where, cleaned, rule, explanation, sensitive[0]))
    return found


def _rule_finding(
    text: str, where: str, cleaned: _Cleaned, rule: _Rule, explanation: str, hit: tuple[int, int]
) -> tuple[int, Finding]:
    start, end = cleaned.original_span(*hit)
    return start, Finding(rule.kind, rule.severity, where, explanation, _excerpt(text, start, end))


def _required_words(in_results: bool) -> tuple[str, ...] | None:
    """Words one of which any wording hit contains (the rules' anchors), or None if a rule has none."""
    words: list[str] = []
    for rule in _RULES:
        if in_results and not rule.in_results:
            continue
        if not rule.words:
            return None
        words.extend(rule.words)
    return tuple(dict.fromkeys(words))


_REQUIRED_WORDS: Final = {False: _required_words(False), True: _required_words(True)}

# In ASCII text _CANDIDATE matches exactly the characters that are not these (tests/test_scanner.py
# checks all 128); deleting these with bytes.translate finds the others several times faster than re.
_ASCII_VISIBLE: Final = b"\t\n\r" + bytes(range(0x20, 0x7F))


def _lowered_if_clean(text: str) -> str | None:
    """``text`` lower-cased for the wording rules when it holds no hidden character, else None.

    Without hidden characters the text is its own cleaned form (no span is cut out of it).
    """
    if text.isascii():  # O(1) in CPython
        if text.encode("ascii").translate(None, _ASCII_VISIBLE):
            return None
        return text.lower()
    if _has_candidates(text):
        return None
    return _lower_same_length(text)


def _without_anchors(lowered: str, in_results: bool) -> bool:
    """No rule can match: every hit contains one of its rule's anchors (see _rule_hits), and none occurs."""
    words = _REQUIRED_WORDS[in_results]
    if words is None:
        return False
    for word in words:
        if word in lowered:
            return False
    return True


def _scan_string(text: str, where: str, *, in_results: bool = False) -> list[Finding]:
    lowered = _lowered_if_clean(text)
    if lowered is not None:
        if _without_anchors(lowered, in_results):
            return []
        found: list[tuple[int, Finding]] = []
        cleaned = _Cleaned(text, [])
    else:
        spans = _hidden_spans(text, _SPAN_LIMIT)
        found = _hidden_findings(text, where, spans, many=len(spans) >= _SPAN_LIMIT)
        cleaned = _Cleaned(text, spans)
        lowered = _lower_same_length(cleaned.text)
    found.extend(_rule_findings(text, where, cleaned, lowered, in_results=in_results))
    found.sort(key=lambda item: item[0])
    return [finding for _, finding in found]


def scan_text(text: str, where: str) -> list[Finding]:
    """Check one string from a tool definition; ``where`` is echoed so the user can find the spot.

    Hidden-character runs are reported once each (a run of the same kind is one finding), and the
    wording checks also see through hidden characters placed inside words to dodge them.
    """
    return _scan_string(text, where)


# --------------------------------------------------------------------------------------------------
# Names: confusables, mixed scripts, shadowing
# --------------------------------------------------------------------------------------------------

# Written as escapes so the table itself cannot be misread.  Case is folded first, so only lower
# case is listed.  i, l, I (folded to i), 1, | and the dotless i all map to l: case-folding and the
# I/l look-alike then agree, at the price of treating i and l as the same letter.
_HOMOGLYPHS: Final = str.maketrans(
    {
        # Cyrillic
        "\u0430": "a",  # CYRILLIC SMALL LETTER A
        "\u0435": "e",  # CYRILLIC SMALL LETTER IE
        "\u043e": "o",  # CYRILLIC SMALL LETTER O
        "\u0440": "p",  # CYRILLIC SMALL LETTER ER
        "\u0441": "c",  # CYRILLIC SMALL LETTER ES
        "\u0443": "y",  # CYRILLIC SMALL LETTER U
        "\u0445": "x",  # CYRILLIC SMALL LETTER HA
        "\u0456": "l",  # CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I
        "\u0458": "j",  # CYRILLIC SMALL LETTER JE
        "\u0455": "s",  # CYRILLIC SMALL LETTER DZE
        "\u0501": "d",  # CYRILLIC SMALL LETTER KOMI DE
        "\u0461": "w",  # CYRILLIC SMALL LETTER OMEGA
        "\u04bb": "h",  # CYRILLIC SMALL LETTER SHHA
        "\u051b": "q",  # CYRILLIC SMALL LETTER QA
        "\u04cf": "l",  # CYRILLIC SMALL LETTER PALOCHKA
        "\u043a": "k",  # CYRILLIC SMALL LETTER KA
        # Armenian
        "\u0578": "n",  # ARMENIAN SMALL LETTER VO
        # Greek
        "\u03bf": "o",  # GREEK SMALL LETTER OMICRON
        "\u03b1": "a",  # GREEK SMALL LETTER ALPHA
        "\u03b5": "e",  # GREEK SMALL LETTER EPSILON
        "\u03b9": "l",  # GREEK SMALL LETTER IOTA
        "\u03ba": "k",  # GREEK SMALL LETTER KAPPA
        "\u03bd": "v",  # GREEK SMALL LETTER NU
        "\u03c1": "p",  # GREEK SMALL LETTER RHO
        "\u03c4": "t",  # GREEK SMALL LETTER TAU
        "\u03c5": "u",  # GREEK SMALL LETTER UPSILON
        "\u03c7": "x",  # GREEK SMALL LETTER CHI
        # Latin look-alikes
        "\u0131": "l",  # LATIN SMALL LETTER DOTLESS I
        "\u0251": "a",  # LATIN SMALL LETTER ALPHA
        "\u0237": "j",  # LATIN SMALL LETTER DOTLESS J
        "\u0261": "g",  # LATIN SMALL LETTER SCRIPT G
        # Digits and the vertical strokes
        "0": "o",
        "1": "l",
        "i": "l",
        "|": "l",
        "\u01c0": "l",  # LATIN LETTER DENTAL CLICK
    }
)
# Separators a reader skips over: ASCII ones, the Unicode dashes and hyphens, middle dots.
_SEPARATORS: Final = _Regex("[\\s._\\-\u2010-\u2015\u2212\u00b7\u30fb]+")


@lru_cache(maxsize=4096)
def _skeleton_cached(name: str) -> str:
    text = unicodedata.normalize("NFKC", name)
    text = "".join(ch for ch in text if _char_kind(ch) is None)
    text = text.casefold().translate(_HOMOGLYPHS)
    text = _SEPARATORS.sub("", text)
    return text.replace("rn", "m").replace("vv", "w")


def skeleton(name: str) -> str:
    """Reduce a tool name to what a reader (human or model) can tell apart.

    Two names with the same skeleton are confusable: a server can register ``read_file`` spelled with a
    Cyrillic "a", or ``read-file``, next to a trusted ``read_file`` and catch calls meant for it.  Case, separators,
    width, invisible characters and common homoglyphs are folded away; ``i``, ``l``, ``I`` and ``1``
    all fold to ``l`` so that case-folding and the ``I``/``l`` look-alike agree.
    """
    return _skeleton_cached(name)


def _script(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return name.split(" ", 1)[0] if name else "UNKNOWN"


def _non_ascii_names(name: str, limit: int = 3) -> str:
    chars = list(dict.fromkeys(ch for ch in name if ord(ch) > 0x7F))
    described = [f"U+{ord(ch):04X} {unicodedata.name(ch, 'UNNAMED')}" for ch in chars[:limit]]
    return ", ".join(described)


@lru_cache(maxsize=16)
def _skeleton_index(names: frozenset[str]) -> dict[str, tuple[str, ...]]:
    """Skeleton -> names, built once per set of approved names rather than once per tool."""
    index: dict[str, list[str]] = {}
    for name in names:
        index.setdefault(skeleton(name), []).append(name)
    return {skel: tuple(group) for skel, group in index.items()}


def _name_findings(name: str, others: frozenset[str]) -> list[Finding]:
    found: list[Finding] = []
    shown = reveal(name)
    skel = skeleton(name)
    lookalikes = sorted(other for other in _skeleton_index(others).get(skel, ()) if other != name)
    if lookalikes:
        listed = ", ".join(f"“{reveal(other)}”" for other in lookalikes[:3])
        odd = _non_ascii_names(name)
        detail = f" (it contains {odd})" if odd else ""
        found.append(
            Finding(
                "confusable-name",
                "critical",
                "name",
                f"The tool name “{shown}”{detail} looks like the already approved {listed} but is a different "
                "name, so calls meant for that tool could land here instead.",
                _excerpt(name, 0, len(name)),
            )
        )
    letters = [ch for ch in name if ch.isalpha()]
    if any(ch.isascii() for ch in letters):
        scripts = sorted({_script(ch) for ch in letters if not ch.isascii()} - {"LATIN"})
        if scripts:
            found.append(
                Finding(
                    "mixed-script-name",
                    "warning",
                    "name",
                    f"The tool name “{shown}” mixes Latin letters with {', '.join(s.title() for s in scripts)} "
                    f"letters ({_non_ascii_names(name)}), a common way to build a look-alike of another name.",
                    _excerpt(name, 0, len(name)),
                )
            )
    return found


_SENTENCE_END: Final = _Regex(r"[.!?](?=\s|$)|\n")
_SHADOW_DIRECTIVE: Final = _Regex(
    r"\b(?:instead\s+of|rather\s+than|in\s+place\s+of|before\s+(?:using|calling|invoking|running)"
    r"|after\s+(?:using|calling|invoking|running)|when(?:ever)?\s+(?:calling|using|invoking|running)"
    r"|always|never|must|do\s+not\s+(?:use|call)|don['’]?t\s+(?:use|call)|make\s+sure|every\s+time"
    r"|is\s+required|should\s+(?:not\s+)?(?:be\s+)?(?:used|called)|replaces?|overrides?)\b"
)
_PLAIN_WORD: Final = _Regex(r"[a-z]+")
_TOOL_WORD_AFTER: Final = _Regex(r"\s+(?:tool|function|command)\b")


@lru_cache(maxsize=16)
def _names_pattern(names: frozenset[str]) -> re.Pattern[str] | None:
    """One alternation of all foreign tool names, longest first, so one pass finds every mention.

    Cached because every tool of a server is scanned against the same set of foreign names, and
    compiling a few hundred alternatives costs about as much as scanning the whole listing.
    """
    if not names:
        return None
    ordered = sorted(names, key=lambda name: (-len(name), name))
    return re.compile("|".join(re.escape(name) for name in ordered))


def _is_name_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_-"


def _whole_name(text: str, start: int, end: int) -> bool:
    """``send_email`` counts in "call send_email." but not inside ``send_email_v2`` or ``x.send_email``."""
    if start > 0 and (_is_name_char(text[start - 1]) or text[start - 1] == "."):
        return False
    if end < len(text):
        after = text[end]
        if _is_name_char(after):
            return False
        if after == "." and end + 1 < len(text) and _is_name_char(text[end + 1]):
            return False
    return True


def _code_like_mention(text: str, start: int, end: int) -> bool:
    """A plain-word name ("search") only counts when written like a tool reference, not as prose."""
    before = text[start - 1] if start else ""
    after = text[end] if end < len(text) else ""
    if before and before == after and before in "`'\"":
        return True
    if text.startswith("()", end):
        return True
    return _TOOL_WORD_AFTER.match(text, end) is not None


def _sentence_around(text: str, start: int, end: int) -> str:
    sentence_start = 0
    for boundary in _SENTENCE_END.finditer(text, max(0, start - 400), start):
        sentence_start = boundary.end()
    following = _SENTENCE_END.search(text, end, end + 400)
    sentence_end = following.end() if following is not None else min(len(text), end + 400)
    return text[sentence_start:sentence_end]


def _shadowing_findings(text: str, where: str, names: re.Pattern[str]) -> list[Finding]:
    found: list[Finding] = []
    reported: set[str] = set()
    for match in names.finditer(text):
        name = match.group()
        start, end = match.span()
        if name in reported or not _whole_name(text, start, end):
            continue
        if _PLAIN_WORD.fullmatch(name) and not _code_like_mention(text, start, end):
            continue
        if _SHADOW_DIRECTIVE.search(_lower_same_length(_sentence_around(text, start, end))) is None:
            continue
        reported.add(name)
        found.append(
            Finding(
                "shadowing",
                "warning",
                where,
                f"The text tells the model how to use “{reveal(name)}”, a tool this server does not own, which "
                "is how a malicious server hijacks other servers' tools.",
                _excerpt(text, start, end),
            )
        )
    return found


# --------------------------------------------------------------------------------------------------
# Walking definitions and results
# --------------------------------------------------------------------------------------------------

_SIMPLE_KEY: Final = _Regex(r"[A-Za-z_$][A-Za-z0-9_$-]*")
_MAX_DEPTH: Final = 32
_MAX_NODES: Final = 100_000
_DEFINITION_MAX_CHARS: Final = 4_000_000


_CHILD_CACHE: dict[tuple[str, str], str] = {}
_SIMPLE_KEYS: dict[str, bool] = {}


def _is_simple_key(key: str) -> bool:
    """``key`` reads as a plain identifier (its path is ``a.b``, and it needs no scan of its own); cached."""
    simple = _SIMPLE_KEYS.get(key)
    if simple is None:
        simple = _SIMPLE_KEY.fullmatch(key) is not None
        if len(_SIMPLE_KEYS) < _CACHE_LIMIT and len(key) <= 64:
            _SIMPLE_KEYS[key] = simple
    return simple


def _child(where: str, key: str) -> str:
    """The path of ``key`` under ``where``; cached, as every result repeats ``content[0].text``."""
    path = _CHILD_CACHE.get((where, key))
    if path is None:
        path = _child_path(where, key)
        if len(_CHILD_CACHE) < _CACHE_LIMIT and len(where) + len(key) <= 128:
            _CHILD_CACHE[(where, key)] = path
    return path


def _child_path(where: str, key: str) -> str:
    if _is_simple_key(key):
        return f"{where}.{key}" if where else key
    shown = reveal(key[:60] + ("…" if len(key) > 60 else "")).replace("\\", "\\\\").replace('"', '\\"')
    return f'{where}["{shown}"]'


class _Walker:
    """Visit every string once with a bounded budget, so a hostile payload cannot stall the shim."""

    def __init__(self, max_chars: int, *, in_results: bool, foreign_names: re.Pattern[str] | None) -> None:
        self.remaining = max(0, max_chars)
        self.max_chars = max_chars
        self.nodes = 0
        self.in_results = in_results
        self.foreign_names = foreign_names
        self.findings: list[Finding] = []
        self.truncated_at: str | None = None
        self.truncated_why = ""

    def _truncate(self, where: str, why: str) -> None:
        self.truncated_at = where
        self.truncated_why = why

    def text(self, value: str, where: str, *, shadowing: bool = True) -> None:
        if self.truncated_at is not None:
            return
        if len(value) > self.remaining:
            value = value[: self.remaining]
            self._truncate(where, f"the first {self.max_chars:,} characters")
        self.remaining -= len(value)
        if value:
            self.findings.extend(_scan_string(value, where, in_results=self.in_results))
            if shadowing and self.foreign_names is not None:
                self.findings.extend(_shadowing_findings(value, where, self.foreign_names))

    def value(self, value: object, where: str, depth: int = 0) -> None:
        if self.truncated_at is not None:
            return
        self.nodes += 1
        if depth > _MAX_DEPTH:
            self._truncate(where, f"{_MAX_DEPTH} levels of nesting")
            return
        if self.nodes > _MAX_NODES:
            self._truncate(where, f"the first {_MAX_NODES:,} values")
            return
        if isinstance(value, str):
            self.text(value, where)
        elif isinstance(value, dict) or isinstance(value, Mapping):
            for key, item in value.items():
                key_text = str(key)
                child = _child(where, key_text)
                if not _is_simple_key(key_text):
                    self.text(key_text, f"{child}(key)", shadowing=False)
                self.value(item, child, depth + 1)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                self.value(item, f"{where}[{index}]", depth + 1)

    def finish(self) -> list[Finding]:
        if self.truncated_at is not None:
            self.findings.append(
                Finding(
                    "scan-truncated",
                    "info",
                    self.truncated_at,
                    f"Only {self.truncated_why} were scanned, so the rest of this content was not checked "
                    "for poisoning.",
                    "",
                )
            )
        return self.findings


def scan_definition(
    definition: Mapping[str, Any],
    *,
    approved_names: Iterable[str] = (),
    own_names: Iterable[str] = (),
) -> list[Finding]:
    """Check a tool definition (one entry of ``tools/list``) before the user pins it.

    Every string the model will read is checked, not just ``description``: poisoning hides just as well
    in a nested parameter description, an enum value or an unknown field.  ``approved_names`` are the
    tools the user already trusts (any server) and ``own_names`` the tools of this definition's own
    server; a tool may talk about its siblings, but naming someone else's tool alongside orders is
    shadowing, and copying someone else's name with a twist is a confusable.
    """
    name = definition.get("name")
    own = set(own_names)
    if isinstance(name, str):
        own.add(name)
    foreign = frozenset(approved_names) - own
    names = _names_pattern(frozenset(other for other in foreign if len(other) >= 3))
    walker = _Walker(_DEFINITION_MAX_CHARS, in_results=False, foreign_names=names)
    if isinstance(name, str):
        walker.text(name, "name", shadowing=False)
        walker.findings.extend(_name_findings(name, foreign))
    for key, value in definition.items():
        if key == "name" and isinstance(value, str):
            continue
        key_text = str(key)
        if not _SIMPLE_KEY.fullmatch(key_text):
            walker.text(key_text, f"{_child('', key_text)}(key)", shadowing=False)
        walker.value(value, _child("", key_text), 1)
    return walker.finish()


def scan_result(result: Mapping[str, Any], *, max_chars: int = 1_000_000) -> list[Finding]:
    """Check a ``tools/call`` result for poisoning aimed at the model (findings go to the log).

    Results are data the server fetched on the model's behalf (files, web pages), so mentions of
    ``.env`` or passwords are normal there and only hidden characters, terminal escapes and text
    aimed at the model are reported.  Binary payloads (image/audio ``data``, resource ``blob``) are
    skipped; scanning stops after ``max_chars`` characters with a ``scan-truncated`` note.
    """
    strings = _usual_result_strings(result, max_chars)
    if strings is not None:
        # Every result is scanned, so the usual one is answered without the walk when provably clean:
        # no string holds a hidden character and no anchor occurs in any of them (nor, then, in all
        # of them joined, which is checked at once).
        lowered: list[str] = []
        for text in strings:
            low = _lowered_if_clean(text)
            if low is None:
                break
            lowered.append(low)
        else:
            if _without_anchors("\n".join(lowered), True):
                return []
    return _walk_result(result, max_chars)


_SCALARS: Final = (bool, int, float)


def _usual_result_strings(result: Mapping[str, Any], max_chars: int) -> list[str] | None:
    """The strings :func:`_walk_result` scans in a result of the usual shape; None for any other shape.

    The usual shape: scalar fields (``isError``) and ``content`` items whose values are all scalars.
    For it the walk scans exactly these strings, whole (they fit in ``max_chars``), and no key: the
    walk looks at keys only inside nested objects, and it stops at no depth or node limit here.
    """
    if type(result) is not dict:
        return None
    strings: list[str] = []
    size = nodes = 0
    for key, value in result.items():
        if type(key) is not str:
            return None
        if key == "content" and type(value) is list:
            for item in value:
                if type(item) is not dict:
                    return None
                binary = item.get("type") in ("image", "audio")
                for item_key, item_value in item.items():
                    if type(item_key) is not str:
                        return None
                    if binary and item_key == "data":
                        continue
                    nodes += 1
                    if type(item_value) is str:
                        strings.append(item_value)
                        size += len(item_value)
                    elif item_value is not None and type(item_value) not in _SCALARS:
                        return None
        else:
            nodes += 1
            if type(value) is str:
                strings.append(value)
                size += len(value)
            elif value is not None and type(value) not in _SCALARS:
                return None
    if size > max_chars or nodes > _MAX_NODES:
        return None
    return strings


def _walk_result(result: Mapping[str, Any], max_chars: int) -> list[Finding]:
    """Every string of a result, with the budget and the paths of findings."""
    walker = _Walker(max_chars, in_results=True, foreign_names=None)
    for key, value in result.items():
        key_text = str(key)
        where = _child("", key_text)
        if key_text == "content" and isinstance(value, list | tuple):
            for index, item in enumerate(value):
                item_where = f"{where}[{index}]"
                if not isinstance(item, dict) and not isinstance(item, Mapping):
                    walker.value(item, item_where, 2)
                    continue
                binary = item.get("type") in ("image", "audio")
                for item_key, item_value in item.items():
                    item_key_text = str(item_key)
                    if binary and item_key_text == "data":
                        continue
                    child = _child(item_where, item_key_text)
                    if item_key_text == "resource" and isinstance(item_value, Mapping):
                        for res_key, res_value in item_value.items():
                            if str(res_key) != "blob":
                                walker.value(res_value, _child(child, str(res_key)), 4)
                    else:
                        walker.value(item_value, child, 3)
        else:
            walker.value(value, where, 1)
    return walker.finish()
