"""Tool-poisoning checks for MCP tool definitions and tool results.

Pinning tells us *that* a definition changed; this module tells the user *why it might be dangerous*
before they approve it: hidden characters the model reads but the user cannot see, text aimed at the
model rather than at the user, look-alike tool names and descriptions that hijack other servers' tools.

The shim imports this on its hot path, so it uses the standard library only, compiles its patterns once
and keeps the per-character work in C (``re``) wherever it can: a megabyte of ordinary text is a handful
of regex searches.  False positives teach users to click "approve" without reading, so every pattern is
deliberately narrow and ordinary descriptions (any language, emoji, accented names) produce no findings.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, Literal, cast

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

Severity = Literal["info", "warning", "critical"]

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


@dataclass(frozen=True)
class Finding:
    """One reason to distrust a tool definition or result, phrased for the person approving it.

    Frozen and made of plain strings so findings can be pinned next to a fingerprint, written to the
    audit log and compared across runs without any translation layer.
    """

    kind: str
    severity: Severity
    where: str
    explanation: str
    excerpt: str

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
        return cls(values["kind"], cast(Severity, severity), values["where"], values["explanation"], values["excerpt"])


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
_CANDIDATE: Final = re.compile(f"[^{_NOT_HIDDEN}][^{_NOT_HIDDEN}]*")
_FILLERS: Final = re.compile("[\u115f\u1160\u3164\uffa0]")
_CANDIDATE_WITH_FILLERS: Final = re.compile(f"(?:[\u115f\u1160\u3164\uffa0]|[^{_NOT_HIDDEN}])+")
# Past this many hidden runs in one string the findings only say "many more"; it bounds the work a
# hostile megabyte of alternating zero-width characters can cause.
_SPAN_LIMIT: Final = 2000


def _has_candidates(text: str) -> bool:
    return _CANDIDATE.search(text) is not None or _FILLERS.search(text) is not None


_TERMINAL: Final = re.compile(
    "\x1b\\[[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"  # CSI: colours, cursor moves, erase line
    "|\x9b[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"  # 8-bit CSI
    "|[\x1b]\\][^\x07\x1b\x9c]{0,4096}(?:\x07|\x1b\\\\|\x9c)?"  # OSC: titles, OSC 8 links, OSC 52 clipboard
    "|\x9d[^\x07\x1b\x9c]{0,4096}(?:\x07|\x1b\\\\|\x9c)?"  # 8-bit OSC
    "|\x1b[P^_X][^\x1b\x9c]{0,4096}(?:\x1b\\\\|\x9c)?"  # DCS, PM, APC, SOS strings
    "|\x1b[\x20-\x2f]*[\x30-\x7e]"  # two-byte escapes: reset, save/restore cursor, charsets
)

_FLAG_TAGS: Final = re.compile("[\U000e0030-\U000e0039\U000e0061-\U000e007a]{2,7}\U000e007f")

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
    return ord(ch) > 0x7F and _char_kind(ch) is None and unicodedata.category(ch)[0] in "LMS"


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


def _hidden_spans(text: str, limit: int | None = None) -> list[tuple[int, int, str]]:
    """Find maximal runs of same-kind hidden characters, and whole terminal escape sequences."""
    spans: list[tuple[int, int, str]] = []
    search = (_CANDIDATE_WITH_FILLERS if _FILLERS.search(text) else _CANDIDATE).search
    char_kind = _char_kind
    pos = 0
    while (match := search(text, pos)) is not None:
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


@dataclass(frozen=True)
class _Rule:
    """A wording check.

    Running a dozen alternation-heavy regexes over a megabyte costs far more than the 100 ms budget,
    so each rule names the literal ``anchors`` every hit must contain.  ``str.find`` locates them in C
    and the regex only runs in a small window around each one (``before``/``after`` characters); with
    ``before == 0`` every alternative starts with an anchor and the regex is tried right there.
    """

    kind: str
    severity: Severity
    pattern: re.Pattern[str]
    explanation: str
    anchors: tuple[str, ...]
    before: int = 0
    after: int = 0
    in_results: bool = True


_USER = r"(?:the\s+|your\s+|this\s+)?(?:user|human|person)s?\b"
_NOT = r"(?:do\s+not|don['’]?t|never|must\s+not|should\s+not|shouldn['’]?t)\s+(?:ever\s+)?"

# Patterns are written in lower case: they run on lower-cased text, never with IGNORECASE.
_RULES: Final[tuple[_Rule, ...]] = (
    _Rule(
        "model-directive",
        "critical",
        re.compile(
            r"(?:ignore|disregard|forget|override|bypass)\s+(?:"
            r"(?:all|any|every)\s+(?:of\s+)?(?:the\s+|your\s+|my\s+)?"
            r"(?:(?:previous|prior|above|earlier|preceding|other|former|system|safety)\s+)?"
            r"(?:instructions?|prompts?|directions|directives|guidelines|guardrails)"
            r"|(?:the\s+|your\s+|my\s+)?(?:previous|prior|above|earlier|preceding|former|original|system|safety)"
            r"\s+(?:instructions?|prompts?|rules|directions|directives|guidelines|guardrails|policies|constraints)"
            r"|the\s+above|everything\s+above)\b"
        ),
        "The text tells the model to ignore its earlier instructions, the classic prompt-injection opener.",
        ("ignore", "disregard", "forget", "override", "bypass"),
    ),
    _Rule(
        "model-directive",
        "critical",
        re.compile(
            rf"{_NOT}(?:tell|inform|notify|alert|warn)\s+{_USER}"
            rf"|{_NOT}(?:mention|show|reveal|disclose|display|report|say)\s+"
            rf"(?:this|that|it|these|anything|any\s+of\s+this)(?:\s+[\w'’-]+){{0,2}}?\s+to\s+{_USER}"
            rf"|without\s+(?:ever\s+)?(?:telling|informing|asking|notifying|alerting|warning|consulting|letting)"
            rf"\s+{_USER}"
            rf"|(?:hide|conceal|keep)\s+(?:this|it|that|these|them)(?:\s+\w+)?\s+from\s+{_USER}"
            rf"|the\s+user\s+(?:must|should)\s+not\s+(?:know|see|notice|be\s+told|find\s+out)\b"
        ),
        "The text tells the model to keep something from the user, which an honest tool never needs.",
        ("user", "human", "person"),
        before=110,
        after=40,
    ),
    _Rule(
        "model-directive",
        "critical",
        re.compile(
            r"<\s*/?\s*(?:important|system|instructions?|system[\s_-]?(?:prompt|message|instructions?)|secret"
            r"|hidden|admin|critical|(?:assistant|model|ai|tool)[\s_-]?instructions?)\s*>"
            r"|<\|(?:im_start|im_end|system|endoftext|start_header_id|end_header_id|eot_id)\|>"
            r"|\[/?inst\]|<</?sys>>|\[(?:system|instructions?)\]"
        ),
        "The text uses pseudo-tags or chat-template tokens to pass itself off as system instructions.",
        (
            "important",
            "system",
            "instruction",
            "secret",
            "hidden",
            "admin",
            "critical",
            "im_start",
            "im_end",
            "endoftext",
            "header_id",
            "eot_id",
            "inst]",
            "sys>>",
        ),
        before=20,
        after=30,
    ),
    _Rule(
        "model-directive",
        "warning",
        re.compile(
            r"(?:your|my|the\s+assistant['’]?s|the\s+model['’]?s|new|original|hidden)\s+system\s+prompt"
            r"|system\s+prompt\s+(?:says|tells|requires|overrides?|instructs?|is\s+overridden)"
            r"|(?:reveal|print|output|repeat|show|leak|send|include|return|dump)\s+(?:[\w'’-]+\s+){0,2}?"
            r"system\s+prompt"
        ),
        "The text talks to the model about its system prompt, which tool descriptions have no reason to do.",
        ("prompt",),
        before=70,
        after=40,
    ),
    _Rule(
        "model-directive",
        "warning",
        re.compile(
            r"you\s+(?:must|need\s+to|have\s+to|are\s+required\s+to|should\s+always)\s+"
            r"(?:first\s+|always\s+|also\s+|now\s+|immediately\s+)?"
            r"(?:read|call|send|invoke|fetch|upload|forward|email|post|exfiltrate|retrieve|access|cat|open"
            r"|copy|transmit)\b"
            r"|before\s+(?:using|calling|invoking|running|executing)\s+(?:this|the|any|each|every)\s+"
            r"(?:[\w-]+\s+)?(?:tool|function)\b[^\n]{0,100}?\b(?:read|open|cat|fetch|load|send|pass|include"
            r"|upload|call)\b"
        ),
        "The text orders the model to take extra steps (reading or sending something) before using the tool.",
        ("you", "before"),
    ),
    _Rule(
        "model-directive",
        "warning",
        re.compile(
            r"this\s+is\s+(?:very|extremely|really|critically|super|absolutely|vitally)\s+important\b"
            r"|very\s+very\s+important\b"
        ),
        "The text presses urgency on the model, a common way to make injected instructions stick.",
        ("important",),
        before=60,
        after=10,
    ),
    _Rule(
        "model-directive",
        "warning",
        re.compile(
            r"as\s+an?\s+(?:ai|llm|large\s+language\s+model|language\s+model|ai\s+assistant)\b"
            r"|assistant\s+(?:must|shall|is\s+required\s+to|has\s+to|needs\s+to)\b"
            r"|note\s+(?:to|for)\s+(?:the\s+)?(?:ai|llm|assistant|model)\b"
        ),
        "The text addresses the AI model directly instead of describing what the tool does.",
        ("as ", "assistant", "note"),
    ),
    _Rule(
        "model-directive",
        "warning",
        re.compile(r"(?:secretly|covertly|surreptitiously|stealthily|conceal(?:s|ed|ing|ment)?)\b"),
        "The text asks for secrecy, which has no place in an honest tool description.",
        ("secretly", "covertly", "surreptitiously", "stealthily", "conceal"),
    ),
    _Rule(
        "sensitive-path",
        "warning",
        re.compile(
            r"~?[/\\]?\.ssh\b(?:[/\\][\w.-]+)?"
            r"|id_(?:rsa|dsa|ecdsa|ed25519)\b"
            r"|\.aws(?:[/\\](?:credentials|config))?\b"
            r"|aws_secret_access_key\b"
            r"|\.env(?:rc|\.[a-z]+)?\b"
            r"|/etc/(?:passwd|shadow|sudoers|master\.passwd)\b"
            r"|private[\s_-]?keys?\b"
            r"|(?:claude_desktop_config|mcp)\.json\b"
            r"|~?[/\\]\.cursor\b|\.cursor[/\\]"
            r"|\.netrc\b|\.git-credentials\b|\.pgpass\b|\.gnupg\b|\.kube[/\\]config\b"
            r"|\.docker[/\\]config\.json\b|\.(?:bash|zsh)_history\b"
            r"|(?:application\s+support|\.config|appdata[/\\]roaming)[/\\]claude\b"
        ),
        "",
        (
            ".ssh",
            "id_",
            ".aws",
            "aws_secret",
            ".env",
            "/etc/",
            "private",
            ".json",
            ".cursor",
            ".netrc",
            ".git-credentials",
            ".pgpass",
            ".gnupg",
            ".kube",
            "_history",
            "claude",
        ),
        before=30,
        after=60,
        in_results=False,
    ),
    _Rule(
        "secret-request",
        "warning",
        re.compile(
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
        ("key", "token", "password", "passphrase", "passcode", "credential", "secret", "seed", "recovery"),
        before=100,
        after=50,
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
        "{count} zero-width character{s} ({names}) hide in the text, where they can split words to slip "
        "past filters or carry a hidden message{more}.",
    ),
    "bidi-control": (
        "critical",
        "{count} bidirectional control character{s} ({names}) reorder how the text is displayed, so the "
        "user can read something different from what the model reads{more}.",
    ),
    "invisible": (
        "warning",
        "{count} invisible character{s} ({names}) have no visible glyph but the model still reads them, "
        "so they can hide data or instructions{more}.",
    ),
    "private-use": (
        "warning",
        "{count} private-use character{s} ({names}) have no agreed meaning or glyph and can carry data the "
        "user cannot read{more}.",
    ),
    "control-character": (
        "warning",
        "{count} control character{s} ({names}) have no place in tool text and can garble what terminals "
        "and logs show{more}.",
    ),
}

# Per string, per kind: enough to show the pattern without flooding the approval dialog.
_MAX_PER_KIND: Final = 10
_EXCERPT_MAX: Final = 120


def _lower_same_length(text: str) -> str:
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


def _excerpt(text: str, start: int, end: int) -> str:
    """Show the hit with some context, revealed, in about _EXCERPT_MAX characters on one line."""
    hit = reveal(text[start : min(end, start + 2 * _EXCERPT_MAX)])
    if len(hit) >= _EXCERPT_MAX or end - start > 2 * _EXCERPT_MAX:
        excerpt = hit[: _EXCERPT_MAX - 1] + "…"
    else:
        room = _EXCERPT_MAX - len(hit)
        before = reveal(text[max(0, start - room) : start])
        after = reveal(text[end : end + room])
        left = min(len(before), max(room // 2, room - len(after)))
        right = min(len(after), room - left)
        cut_before, cut_after = before[len(before) - left :], after[:right]
        cut_before, cut_after = _clip_markers(cut_before, cut_after)
        head = "…" if left < len(before) or start - room > 0 else ""
        tail = "…" if right < len(after) or end + room < len(text) else ""
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
    """The text with hidden spans cut out, so ``ig\u200bnore previous instructions`` still matches.

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


def _hidden_findings(
    text: str, where: str, spans: list[tuple[int, int, str]], *, many: bool
) -> list[tuple[int, Finding]]:
    by_kind: dict[str, list[tuple[int, int]]] = {}
    for start, end, kind in spans:
        by_kind.setdefault(kind, []).append((start, end))
    found: list[tuple[int, Finding]] = []
    for kind, runs in by_kind.items():
        shown = runs[:_MAX_PER_KIND]
        hidden_more = len(runs) - len(shown)
        for index, (start, end) in enumerate(shown):
            more = ""
            if (hidden_more or many) and index == len(shown) - 1:
                more = (
                    ", and many more runs like it are not listed"
                    if many
                    else f", and {hidden_more} more run{'s are' if hidden_more > 1 else ' is'} like it not listed"
                )
            chunk = text[start:end]
            severity: Severity
            if kind == "tag-characters":
                severity = "critical"
                spelled = _tag_ascii(chunk)
                if len(spelled) > 200:
                    spelled = spelled[:199] + "…"
                explanation = (
                    f"{end - start} invisible Unicode tag characters spell out “{spelled}”, text the model "
                    f"reads but the user never sees{more}."
                    if spelled
                    else f"{end - start} invisible Unicode tag characters hide in the text{more}."
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
    for anchor in rule.anchors:
        found = 0
        pos = lowered.find(anchor)
        while pos != -1 and found < limit:
            if rule.before == 0:
                starts: Iterable[int] = (pos,)
            else:
                window = pattern.finditer(lowered, max(0, pos - rule.before), min(size, pos + len(anchor) + rule.after))
                starts = [match.start() for match in window]
            for start in starts:
                # Re-match on the whole text: a window's edge would otherwise satisfy a trailing \b.
                match = pattern.match(lowered, start)
                if match is not None and _left_boundary_ok(lowered, start):
                    hits.add(match.span())
                    found += 1
            pos = lowered.find(anchor, pos + 1)
    return sorted(hits)


def _rule_findings(
    text: str, where: str, cleaned: _Cleaned, lowered: str, *, in_results: bool
) -> list[tuple[int, Finding]]:
    found: list[tuple[int, Finding]] = []
    directive_spans: list[tuple[int, int]] = []
    for rule in _RULES:
        if in_results and not rule.in_results:
            continue
        hits = _rule_hits(rule, lowered, 4 if rule.kind == "sensitive-path" else 1)
        if rule.kind == "model-directive":
            # One finding per rule per string, and none for text another directive already covers.
            hits = [(s, e) for s, e in hits if not any(ds < e and s < de for ds, de in directive_spans)][:1]
        if not hits:
            continue
        start, end = hits[0]
        explanation = rule.explanation
        if rule.kind == "model-directive":
            directive_spans.append((start, end))
        elif rule.kind == "sensitive-path":
            paths = list(dict.fromkeys(cleaned.text[s:e].strip() for s, e in hits))
            explanation = _SENSITIVE_EXPLANATION.format(paths=", ".join(paths[:3]))
        orig_start, orig_end = cleaned.original_span(start, end)
        excerpt = _excerpt(text, orig_start, orig_end)
        found.append((orig_start, Finding(rule.kind, rule.severity, where, explanation, excerpt)))
    return found


def _scan_string(text: str, where: str, *, in_results: bool = False) -> list[Finding]:
    spans = _hidden_spans(text, _SPAN_LIMIT) if _has_candidates(text) else []
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

_HOMOGLYPHS: Final = str.maketrans(
    {
        # Cyrillic
        "а": "a",
        "е": "e",
        "о": "o",
        "р": "p",
        "с": "c",
        "у": "y",
        "х": "x",
        "і": "l",
        "ј": "j",
        "ѕ": "s",
        "ԁ": "d",
        "ѡ": "w",
        "һ": "h",
        "ԛ": "q",
        "ӏ": "l",
        "к": "k",
        "ո": "n",
        # Greek
        "ο": "o",
        "α": "a",
        "ε": "e",
        "ι": "l",
        "κ": "k",
        "ν": "v",
        "ρ": "p",
        "τ": "t",
        "υ": "u",
        "χ": "x",
        # Latin look-alikes
        "ı": "l",
        "ɑ": "a",
        "ȷ": "j",
        "ɡ": "g",
        # Digits and the i/l/1/| family: after casefolding "I" is "i", so all of them share one letter.
        "0": "o",
        "1": "l",
        "i": "l",
        "|": "l",
        "ǀ": "l",
    }
)
_SEPARATORS: Final = re.compile(r"[\s._\-‐‑‒–—―−·・]+")


@lru_cache(maxsize=4096)
def _skeleton_cached(name: str) -> str:
    text = unicodedata.normalize("NFKC", name)
    text = "".join(ch for ch in text if _char_kind(ch) is None)
    text = text.casefold().translate(_HOMOGLYPHS)
    text = _SEPARATORS.sub("", text)
    return text.replace("rn", "m").replace("vv", "w")


def skeleton(name: str) -> str:
    """Reduce a tool name to what a reader (human or model) can tell apart.

    Two names with the same skeleton are confusable: a server can register ``reаd_file`` (Cyrillic а)
    or ``read-file`` next to a trusted ``read_file`` and catch calls meant for it.  Case, separators,
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


def _name_findings(name: str, others: set[str]) -> list[Finding]:
    found: list[Finding] = []
    shown = reveal(name)
    skel = skeleton(name)
    lookalikes = sorted(other for other in others if other != name and skeleton(other) == skel)
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


_NAME_TOKEN: Final = re.compile(r"[\w.-]+")
_SENTENCE_END: Final = re.compile(r"[.!?](?=\s|$)|\n")
_SHADOW_DIRECTIVE: Final = re.compile(
    r"\b(?:instead\s+of|rather\s+than|in\s+place\s+of|before\s+(?:using|calling|invoking|running)"
    r"|after\s+(?:using|calling|invoking|running)|when(?:ever)?\s+(?:calling|using|invoking|running)"
    r"|always|never|must|do\s+not\s+(?:use|call)|don['’]?t\s+(?:use|call)|make\s+sure|every\s+time"
    r"|is\s+required|should\s+(?:not\s+)?(?:be\s+)?(?:used|called)|replaces?|overrides?)\b"
)
_PLAIN_WORD: Final = re.compile(r"[a-z]+")
_TOOL_WORD_AFTER: Final = re.compile(r"\s+(?:tool|function|command)\b")


def _code_like_mention(text: str, start: int, end: int) -> bool:
    """A plain-word name ("search") only counts when written like a tool reference, not as prose."""
    before = text[start - 1] if start else ""
    after = text[end] if end < len(text) else ""
    if before and before == after and before in "`'\"":
        return True
    if text.startswith("()", end):
        return True
    return _TOOL_WORD_AFTER.match(text, end) is not None


def _shadowing_findings(text: str, where: str, others: set[str]) -> list[Finding]:
    if not others:
        return []
    mentions: dict[str, tuple[int, int]] = {}
    for match in _NAME_TOKEN.finditer(text):
        token = match.group().rstrip(".-")
        start = match.start()
        end = start + len(token)
        if token not in others or token in mentions:
            continue
        if _PLAIN_WORD.fullmatch(token) and not _code_like_mention(text, start, end):
            continue
        mentions[token] = (start, end)
    found: list[Finding] = []
    for token, (start, end) in mentions.items():
        sentence_start = 0
        sentence_end = len(text)
        for boundary in _SENTENCE_END.finditer(text):
            if boundary.end() <= start:
                sentence_start = boundary.end()
            elif boundary.start() >= end:
                sentence_end = boundary.end()
                break
        sentence = _lower_same_length(text[sentence_start:sentence_end])
        if _SHADOW_DIRECTIVE.search(sentence) is None:
            continue
        found.append(
            Finding(
                "shadowing",
                "warning",
                where,
                f"The text tells the model how to use “{reveal(token)}”, a tool this server does not own, which "
                "is how a malicious server hijacks other servers' tools.",
                _excerpt(text, start, end),
            )
        )
    return found


# --------------------------------------------------------------------------------------------------
# Walking definitions and results
# --------------------------------------------------------------------------------------------------

_SIMPLE_KEY: Final = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*")
_MAX_DEPTH: Final = 32
_MAX_NODES: Final = 100_000
_DEFINITION_MAX_CHARS: Final = 4_000_000


def _child(where: str, key: str) -> str:
    if _SIMPLE_KEY.fullmatch(key):
        return f"{where}.{key}" if where else key
    shown = reveal(key[:60] + ("…" if len(key) > 60 else "")).replace("\\", "\\\\").replace('"', '\\"')
    return f'{where}["{shown}"]'


class _Walker:
    """Visit every string once with a bounded budget, so a hostile payload cannot stall the shim."""

    def __init__(self, max_chars: int, *, in_results: bool, others: set[str]) -> None:
        self.remaining = max(0, max_chars)
        self.max_chars = max_chars
        self.nodes = 0
        self.in_results = in_results
        self.others = others
        self.findings: list[Finding] = []
        self.truncated_at: str | None = None

    def text(self, value: str, where: str, *, shadowing: bool = True) -> None:
        if self.truncated_at is not None:
            return
        if len(value) > self.remaining:
            value = value[: self.remaining]
            self.truncated_at = where
        self.remaining -= len(value)
        if value:
            self.findings.extend(_scan_string(value, where, in_results=self.in_results))
            if shadowing and self.others:
                self.findings.extend(_shadowing_findings(value, where, self.others))

    def value(self, value: object, where: str, depth: int = 0) -> None:
        if self.truncated_at is not None:
            return
        self.nodes += 1
        if depth > _MAX_DEPTH or self.nodes > _MAX_NODES:
            self.truncated_at = where
            return
        if isinstance(value, str):
            self.text(value, where)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                key_text = str(key)
                child = _child(where, key_text)
                if not _SIMPLE_KEY.fullmatch(key_text):
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
                    f"Only part of this content was scanned (limit {self.max_chars:,} characters or "
                    f"{_MAX_DEPTH} levels of nesting), so the rest was not checked.",
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
    foreign = set(approved_names) - own
    walker = _Walker(_DEFINITION_MAX_CHARS, in_results=False, others={other for other in foreign if len(other) >= 3})
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
    """Check a ``tools/call`` result before it reaches the model.

    Results are data the server fetched on the model's behalf (files, web pages), so mentions of
    ``.env`` or passwords are normal there and only hidden characters, terminal escapes and text
    aimed at the model are reported.  Binary payloads (image/audio ``data``, resource ``blob``) are
    skipped; scanning stops after ``max_chars`` characters with a ``scan-truncated`` note.
    """
    walker = _Walker(max_chars, in_results=True, others=set())
    for key, value in result.items():
        key_text = str(key)
        where = _child("", key_text)
        if key_text == "content" and isinstance(value, list | tuple):
            for index, item in enumerate(value):
                item_where = f"{where}[{index}]"
                if not isinstance(item, Mapping):
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
