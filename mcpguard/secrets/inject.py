"""What the shim calls at launch: its server's secrets from the keyring, then the server's environment.

The order of one launch (``mcpguard run --name SERVER ... -- COMMAND``):

1. :func:`server_secrets` reads ``secrets-index.json`` (names only). When no name starts with
   ``SERVER/``, it returns ``{}`` and ``keyring`` is never imported: a server without secrets
   starts as fast as before. Otherwise it opens the keyring and reads each ``SERVER/VAR``.
2. :func:`launch_environment` feeds them to :func:`~mcpguard.secrets.environment.plan_environment`
   with the environment the shim was given and the names the entry declares (``--env-keys``).
3. The shim starts the server with :attr:`Launch.env`, and builds its log's redactor from
   :meth:`Launch.redactor` (the secrets' values and any plaintext secret still in the environment).

Fail closed: when the index names a secret for the server and the keyring cannot give it (not
installed, locked, or the entry is gone), this raises a :class:`~mcpguard.secrets.base.SecretsError`
whose message says what to do; the shim prints it and exits 1 rather than start the server without
its credentials (which fails later and more obscurely) or with a plaintext copy (there is none).
"""

from __future__ import annotations

from mcpguard.secrets import index
from mcpguard.secrets.environment import plan_environment

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping

    from mcpguard.secrets.base import SecretStore
    from mcpguard.secrets.environment import EnvironmentPlan
    from mcpguard.secrets.redact import Redactor

ENV_KEYS_OPTION = "--env-keys"
"""The ``mcpguard run`` option that carries the names an entry's ``env`` block declares."""


def format_env_keys(names: Iterable[str]) -> str:
    """The value of ``--env-keys``: names joined by commas (an empty string: the entry declares none)."""
    return ",".join(sorted(set(names)))


def parse_env_keys(value: str) -> list[str]:
    """The names in an ``--env-keys`` value (the inverse of :func:`format_env_keys`)."""
    return [n for n in (part.strip() for part in value.split(",")) if n]


def server_secrets(folder: str, server: str, *, store: SecretStore | None = None) -> dict[str, str]:
    """``{VAR: value}`` of every secret stored for ``server``.

    Args:
        folder: The profile directory (``AppPaths.root``).
        server: The server's name as ``mcpguard run --name`` gives it.
        store: The store to read (tests); by default the OS keyring, opened only when needed.

    Raises:
        SecretsUnavailable: The server has secrets and the keyring cannot be used.
        SecretNotFound: The index names a secret the keyring does not hold.
        SecretsError: The index file is damaged.
    """
    variables = index.server_variables(folder, server)
    if not variables:
        return {}
    if store is None:
        from mcpguard.secrets.keyring_store import KeyringStore

        store = KeyringStore(folder)
    out: dict[str, str] = {}
    missing: list[str] = []
    for variable in variables:
        value = store.get(f"{server}/{variable}")
        if value is None:
            missing.append(f"{server}/{variable}")
        else:
            out[variable] = value
    if missing:
        from mcpguard.secrets.base import SecretNotFound

        first = missing[0]
        raise SecretNotFound(
            f"the keyring has no value for {', '.join(missing)}, which the server needs; store it again with "
            f"`mcpguard secrets set {_quote(first.rpartition('/')[0])} {first.rpartition('/')[2]}` "
            "(or remove it with `mcpguard secrets delete`)"
        )
    return out


def _quote(word: str) -> str:
    if word and all(ch.isalnum() or ch in "-_.@+" for ch in word):
        return word
    return "'" + word.replace("'", "'\\''") + "'"


class Launch:
    """A server's start-up environment and what went into it."""

    __slots__ = ("plan", "secrets", "server")

    def __init__(self, server: str, secrets: dict[str, str], plan: EnvironmentPlan) -> None:
        self.server = server
        self.secrets = secrets
        """``{VAR: value}`` injected from the keyring."""
        self.plan = plan
        """The environment decision (names stripped, dropped, injected)."""

    @property
    def env(self) -> dict[str, str]:
        """The environment to start the server with."""
        return self.plan.env

    def redactor(self) -> Redactor:
        """The log's redactor for this server: its secrets, plaintext secrets in its environment, shapes.

        Built on demand (it imports ``re`` and compiles patterns): call it where the log is written,
        not before the server starts.
        """
        from mcpguard.secrets.redact import Redactor

        return Redactor.for_server(self.secrets, self.plan.env, self.server)


def launch_environment(
    folder: str,
    server: str,
    parent_env: Mapping[str, str],
    declared_names: Collection[str] | None,
    *,
    full_passthrough: bool = False,
    allow: Iterable[str] = (),
    store: SecretStore | None = None,
    platform: str | None = None,
) -> Launch:
    """Everything the shim needs to start ``server``: secrets looked up, environment decided.

    Args:
        folder: The profile directory.
        server: ``mcpguard run --name``.
        parent_env: The environment the shim was given (``os.environ``).
        declared_names: ``parse_env_keys(--env-keys)``, or None when the entry has no ``--env-keys``.
        full_passthrough: The per-server setting that passes the whole environment.
        allow: Per-server names or ``PREFIX*`` patterns to pass and never strip.
        store: A store to use instead of the OS keyring (tests).
        platform: ``sys.platform`` by default.

    Raises:
        SecretsError: See :func:`server_secrets`; the shim must not start the server.
    """
    secrets = server_secrets(folder, server, store=store)
    plan = plan_environment(
        parent_env, declared_names, secrets, full_passthrough=full_passthrough, allow=allow, platform=platform
    )
    return Launch(server, secrets, plan)
