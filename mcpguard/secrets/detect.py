"""Find plaintext secrets in a server entry: by the variable's name and by the value's shape.

Two independent signals, because each misses what the other sees:

- a **name** such as ``GITHUB_TOKEN``, ``DB_PASSWORD`` or ``X-Api-Key`` says the value is a secret
  whatever it looks like (a password has no shape);
- a **shape** such as ``ghp_`` + 36 characters or ``sk-ant-api03-...`` says a value is a credential
  whatever its variable is called (``CONFIG={"token": "ghp_..."}``), and also finds secrets where
  names mean nothing: in command-line arguments and in free text (see :mod:`.redact`).

False positives cost the user a confusing migration, so a value is *not* a secret when it is a
reference the client expands (``${VAR}``, ``${input:id}``, ``$VAR``, ``%VAR%``, ``op://...``), a
placeholder (``<YOUR_TOKEN>``, ``your-api-key``, ``xxxx``), a flag or a number, a file path (a key
*file* is not a key), a URL without credentials, or shorter than :data:`MIN_LENGTH`. Names that
only describe a secret (``TOKEN_URL``, ``KEY_FILE``, ``AUTH_TYPE``, ``PUBLIC_KEY``) are not secrets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MIN_LENGTH = 6
"""Shorter values are not treated as secrets: too many ordinary words would be scrubbed from the log."""


@dataclass(frozen=True)
class Shape:
    """A recognisable kind of credential."""

    kind: str
    """Stable id (``github-token``), used in reports and ``--json`` output."""
    label: str
    """What to call it in a sentence."""
    pattern: str
    """A regular expression (no groups of its own) that finds it inside any text."""
    anchors: tuple[str, ...]
    """Literal strings every match contains: ``anchor in text`` is a cheap test before the regex runs."""


# Each pattern starts at a word boundary so that "task-..." is not an OpenAI key; the character classes
# and minimum lengths follow the issuers' published formats, loosened where formats have changed over time.
SHAPES: tuple[Shape, ...] = (
    Shape(
        "github-token", "GitHub token", r"\bgh[pousr]_[A-Za-z0-9]{36,251}\b", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")
    ),
    Shape("github-token", "GitHub fine-grained token", r"\bgithub_pat_[A-Za-z0-9_]{22,251}", ("github_pat_",)),
    Shape("gitlab-token", "GitLab token", r"\bglpat-[A-Za-z0-9_-]{20,}", ("glpat-",)),
    Shape("anthropic-key", "Anthropic API key", r"\bsk-ant-[a-z0-9]{2,12}-[A-Za-z0-9_-]{20,}", ("sk-ant-",)),
    Shape("openai-key", "OpenAI API key", r"\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}", ("sk-",)),
    Shape("openai-key", "OpenAI API key", r"\bsk-[A-Za-z0-9]{20,}(?![A-Za-z0-9_-])", ("sk-",)),
    Shape("slack-token", "Slack token", r"\bxox[abposre]-[A-Za-z0-9-]{10,}", ("xox",)),
    Shape(
        "aws-access-key-id",
        "AWS access key id",
        r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b",
        ("AKIA", "ASIA", "ABIA", "ACCA"),
    ),
    Shape("google-api-key", "Google API key", r"\bAIza[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])", ("AIza",)),
    Shape("stripe-key", "Stripe secret key", r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}", ("_live_", "_test_")),
    Shape("huggingface-token", "Hugging Face token", r"\bhf_[A-Za-z0-9]{30,}", ("hf_",)),
    Shape("npm-token", "npm token", r"\bnpm_[A-Za-z0-9]{36}\b", ("npm_",)),
    Shape("jwt", "JSON Web Token", r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}", ("eyJ",)),
    Shape(
        "private-key",
        "private key",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]{0,20000}?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----",
        ("PRIVATE KEY-----",),
    ),
)

URL_CREDENTIALS = r"://[^\s/:@\"'<>]+:(?P<password>[^\s/@\"'<>]+)@"
"""A URL with a password in it (``postgresql://app:hunter2@db/app``); the password is the secret."""

_SECRET_WORDS = frozenset(
    {
        "TOKEN", "TOKENS", "SECRET", "SECRETS", "PASSWORD", "PASSWORDS", "PASSWD", "PASS", "PASSPHRASE", "PWD",
        "CREDENTIAL", "CREDENTIALS", "CREDS", "AUTH", "AUTHORIZATION", "BEARER", "COOKIE", "PAT", "KEY", "KEYS",
        "APIKEY", "ACCESSKEY", "SECRETKEY", "PRIVATEKEY", "MASTERKEY", "SIGNINGKEY", "ENCRYPTIONKEY", "AUTHTOKEN",
        "ACCESSTOKEN", "APITOKEN", "REFRESHTOKEN", "CLIENTSECRET", "APISECRET", "DBPASSWORD", "LICENSEKEY",
    }
)  # fmt: skip
"""Words of a variable name that make it a secret's name."""

_SECRET_SUFFIXES = ("PASSWORD", "PASSWD", "TOKEN", "SECRET", "APIKEY")
"""Glued words end like this too: ``PGPASSWORD``, ``GHTOKEN``."""

_DESCRIPTIVE_WORDS = frozenset(
    {
        "FILE", "FILES", "PATH", "DIR", "FOLDER", "URL", "URI", "HOST", "HOSTNAME", "PORT", "ENDPOINT", "NAME",
        "USER", "USERNAME", "ID", "TYPE", "MODE", "METHOD", "PROVIDER", "ENABLED", "DISABLED", "REQUIRED", "HEADER",
        "ENV", "VAR", "TIMEOUT", "TTL", "EXPIRY", "EXPIRES", "EXPIRATION", "LENGTH", "SIZE", "LIMIT", "COUNT",
        "FORMAT", "ALGORITHM", "ALG", "SCOPE", "SCOPES", "ISSUER", "AUDIENCE", "REGION", "FINGERPRINT", "HINT",
        "PROMPT", "POLICY", "LEVEL", "STORE", "STORAGE", "BACKEND", "COMMAND", "CMD", "HELPER", "PREFIX", "SUFFIX",
        "LOCATION", "SERVER", "DOMAIN", "REALM", "PUBLIC", "PUBLISHABLE", "SORT", "PARTITION", "CACHE", "PRIMARY",
        "FOREIGN", "HOT", "SHORTCUT", "BINDING", "BINDINGS", "MAP", "LAYOUT",
    }
)  # fmt: skip
"""Words that make a name describe a secret (where it is, what kind) rather than hold one."""

_NOT_SECRET_NAMES = frozenset({"PWD", "OLDPWD", "PASSWORD_STORE_DIR", "GNUPGHOME", "SSH_AUTH_SOCK"})

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+")
_REFERENCE = re.compile(
    r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|%[A-Za-z_][A-Za-z0-9_]*%|\{\{.*?\}\}|^(?:op|vault|keychain|env)://", re.S
)
_PLACEHOLDER = re.compile(
    r"^<[^<>]*>$|^\[[^\[\]]*\]$|^(?:your|my|enter|insert|replace|put|add)[-_ ]|your[-_ ]?(?:api|token|key|secret)"
    r"|x{4,}|\*{3,}|\.{3}|^(?:changeme|change_me|placeholder|example|dummy|redacted|todo|tbd|none|null|undefined)$",
    re.I,
)
_AUTH_SCHEME = re.compile(r"^(?:Bearer|Basic|Token|Bot|ApiKey)\s+", re.I)
_PATH = re.compile(r"^(?:/|~[/\\]|\.{1,2}[/\\]|[A-Za-z]:[/\\]|\\\\)")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_FLAG = frozenset({"true", "false", "yes", "no", "on", "off", "enabled", "disabled"})

_compiled: list[tuple[Shape, re.Pattern[str]]] = []
_url_credentials: list[re.Pattern[str]] = []


def _a(label: str) -> str:
    return f"{'an' if label[0] in 'AEIOU' else 'a'} {label}"


def compiled_shapes() -> list[tuple[Shape, re.Pattern[str]]]:
    """The shapes, compiled on first use (a program that never looks pays nothing)."""
    if not _compiled:
        _compiled.extend((s, re.compile(s.pattern)) for s in SHAPES)
    return _compiled


def _url_pattern() -> re.Pattern[str]:
    if not _url_credentials:
        _url_credentials.append(re.compile(URL_CREDENTIALS))
    return _url_credentials[0]


@dataclass(frozen=True)
class Detection:
    """A plaintext secret found in a config entry."""

    where: str
    """``env`` (also Goose's ``envs``), ``headers`` or ``args``."""
    key: str
    """The variable or header name; for ``args``, the argument's position as text."""
    kind: str
    """A :class:`Shape` kind, ``url-password``, or ``name`` when only the name gave it away."""
    reason: str
    """Why it counts as a secret, for the user (never the value)."""
    value: str
    """The value itself, for the keyring; never print it."""

    def __repr__(self) -> str:  # a repr that leaks nothing, for logs and test failures
        return f"Detection(where={self.where!r}, key={self.key!r}, kind={self.kind!r})"


def name_words(name: str) -> list[str]:
    """``gitHubApiKey`` / ``GITHUB-API_KEY`` -> ``['GIT', 'HUB', 'API', 'KEY']``-like upper-case words."""
    return [w.upper() for part in _WORD_SPLIT.split(name) for w in _CAMEL.split(part) if w]


def is_secret_name(name: str) -> bool:
    """True when a variable or header name says its value is a secret."""
    if name.upper() in _NOT_SECRET_NAMES:
        return False
    words = name_words(name)
    if not any(w in _SECRET_WORDS or w.endswith(_SECRET_SUFFIXES) for w in words):
        return False
    return not any(w in _DESCRIPTIVE_WORDS for w in words)


def shape_of(value: str) -> Shape | None:
    """The first credential shape found anywhere in ``value``."""
    for shape, pattern in compiled_shapes():
        if any(a in value for a in shape.anchors) and pattern.search(value):
            return shape
    return None


def url_password(value: str) -> str | None:
    """The password of a URL with credentials in ``value``; None when there is none (or it is a reference)."""
    found = _url_pattern().search(value) if "://" in value else None
    if found is None:
        return None
    password = found.group("password")
    if _REFERENCE.search(password) or _PLACEHOLDER.search(password):
        return None
    return password


def is_placeholder(value: str) -> bool:
    """True for a value that stands for a secret rather than being one (a reference, a template, a flag)."""
    text = _AUTH_SCHEME.sub("", value.strip())
    if len(text) < MIN_LENGTH:
        return True
    if _REFERENCE.search(text) or _PLACEHOLDER.search(text):
        return True
    if text.lower() in _FLAG or text.isdigit():
        return True
    return bool(_PATH.match(text))


def classify(name: str, value: str) -> tuple[str, str] | None:
    """``(kind, reason)`` when ``value`` under ``name`` is a plaintext secret, else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    shape = shape_of(value)
    if shape is not None:
        return shape.kind, f"{_a(shape.label)} by its shape"
    if url_password(value) is not None:
        return "url-password", "a URL with a password in it"
    if _URL.match(value.strip()):
        return None  # an address without credentials, whatever the variable is called
    if is_secret_name(name) and not is_placeholder(value):
        return "name", f"its name {name!r} says it is a secret"
    return None


def scan_block(where: str, block: Mapping[str, Any]) -> list[Detection]:
    """Every secret among the string values of one ``env`` or ``headers`` mapping."""
    out = []
    for key, value in block.items():
        if isinstance(value, str):
            found = classify(str(key), value)
            if found is not None:
                out.append(Detection(where, str(key), found[0], found[1], value))
    return out


def scan_args(args: Iterable[Any]) -> list[Detection]:
    """Secrets in command-line arguments, by shape only (arguments have no names)."""
    out = []
    for i, arg in enumerate(args):
        if not isinstance(arg, str):
            continue
        shape = shape_of(arg)
        if shape is not None:
            out.append(Detection("args", str(i), shape.kind, f"{_a(shape.label)} by its shape", arg))
        elif url_password(arg) is not None:
            out.append(Detection("args", str(i), "url-password", "a URL with a password in it", arg))
    return out


ENV_KEYS = ("env", "envs")
"""Where entries keep their environment (``envs``: Goose)."""


def scan_entry(entry: Mapping[str, Any], args_key: str = "args") -> list[Detection]:
    """Every plaintext secret in a server entry: its environment, its headers, its arguments."""
    out: list[Detection] = []
    for key in ENV_KEYS:
        block = entry.get(key)
        if isinstance(block, Mapping):
            out += scan_block("env", block)
    headers = entry.get("headers")
    if isinstance(headers, Mapping):
        out += scan_block("headers", headers)
    args = entry.get(args_key)
    if isinstance(args, list):
        out += scan_args(args)
    return out


def secrets_in_environment(env: Mapping[str, str]) -> dict[str, str]:
    """``{name: value}`` of the variables in ``env`` that hold plaintext secrets.

    The shim feeds these to its :class:`~mcpguard.secrets.redact.Redactor`, so a token still kept in
    a config's ``env`` block (not migrated yet) is scrubbed from the log all the same.
    """
    out = {}
    for name, value in env.items():
        found = classify(name, value)
        if found is None:
            continue
        if found[0] == "url-password":
            password = url_password(value)
            if password is not None:
                out[name] = password
        else:
            out[name] = value
    return out
