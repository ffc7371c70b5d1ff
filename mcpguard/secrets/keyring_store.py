"""The OS keyring as a :class:`~mcpguard.secrets.base.SecretStore`, through the ``keyring`` library.

``keyring`` is imported inside the methods, never at module level (ruff TID253): importing it and
discovering its backend costs 110-180 ms, and the shim must not pay that for a server that has no
secrets. Every secret is one keyring entry: service ``mcpguard``, user name ``SERVER/VAR``.

Backends are checked before first use. keyring falls back on its own to a ``fail`` backend (no
keyring), and users can configure ``null`` or the ``keyrings.alt`` file backends, whose "plaintext"
one only base64-encodes. mcpguard refuses all of those, and anything keyring itself does not
recommend (priority below 1), with a :class:`~mcpguard.secrets.base.SecretsUnavailable` that says
what to install or unlock: a secret is either in a real keyring or nowhere.

Reads on Linux, when keyring is not configured, go straight to the Secret Service through
:mod:`mcpguard.secrets.secret_service` (the backend keyring would pick, without importing keyring);
anything that path cannot answer falls back here.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Any

from mcpguard.secrets import index, secret_service
from mcpguard.secrets.base import SecretsUnavailable, install_hint
from mcpguard.secrets.names import check_name, check_value

if TYPE_CHECKING:
    from collections.abc import Callable

    from mcpguard.paths import AppPaths

log = logging.getLogger(__name__)

SERVICE = "mcpguard"
"""The keyring service every mcpguard secret is stored under."""

_SYSTEM_NAMES = {
    "keyring.backends.SecretService": "Secret Service",
    "keyring.backends.libsecret": "Secret Service (libsecret)",
    "keyring.backends.kwallet": "KWallet",
    "keyring.backends.macOS": "macOS Keychain",
    "keyring.backends.Windows": "Windows Credential Manager",
}


def refusal(backend: Any) -> str | None:
    """Why mcpguard will not keep secrets in ``backend``, as a sentence; None when it is acceptable."""
    cls = type(backend)
    module = cls.__module__
    label = f"{module}.{cls.__qualname__}"
    if module == "keyring.backends.fail":
        return "no OS keyring is available"
    if module == "keyring.backends.null":
        return "the keyring is disabled (keyring's null backend is configured)"
    if module.split(".")[:2] == ["keyrings", "alt"]:
        return f"keyring is configured to use {label}, which keeps secrets in a file rather than an OS keyring"
    try:
        priority = float(cls.priority)  # a class property; raises when the backend is not usable here
    except Exception as exc:  # any failure means "not usable", with keyring's reason
        return f"the configured keyring {label} cannot be used ({exc})"
    if priority < 1:
        return f"the keyring {label} is not one keyring recommends (priority {priority:g})"
    return None


def choose(backend: Any) -> Any:
    """The backend to use: ``backend`` itself, or the best acceptable one a chainer holds.

    Raises:
        SecretsUnavailable: Nothing acceptable; the message says what to install or unlock.
    """
    if type(backend).__module__ == "keyring.backends.chainer":
        reasons = []
        for candidate in backend.backends:  # sorted by priority, highest first
            reason = refusal(candidate)
            if reason is None:
                return candidate
            reasons.append(reason)
        reason = reasons[0] if reasons else "no OS keyring is available"
    else:
        reason = refusal(backend)
        if reason is None:
            return backend
    raise SecretsUnavailable(f"mcpguard cannot keep secrets: {reason}; {install_hint()}")


def describe(backend: Any) -> str:
    """A short human name for a backend, for messages."""
    module = type(backend).__module__
    for prefix, name in _SYSTEM_NAMES.items():
        if module == prefix or module.startswith(prefix + "."):
            return name
    return str(getattr(backend, "name", type(backend).__qualname__))


def _system_backend() -> Any:
    """keyring's backend for this user, found the quick way when that gives the same answer.

    ``keyring.get_keyring()`` imports and probes every backend it knows (about 100 ms here) before
    it picks the best. A backend the user configured (``PYTHON_KEYRING_BACKEND`` or
    ``keyringrc.cfg``) is honoured first, as keyring does; otherwise, on Linux, the Secret Service
    is what keyring would pick on nearly every desktop, so it is tried directly, and the full
    discovery runs only when it is not usable. The shim pays this before its server starts.
    """
    try:
        import keyring
        import keyring.core
    except ImportError as exc:  # a broken install: say so rather than fail later
        raise SecretsUnavailable(
            f"mcpguard cannot keep secrets: the keyring library is not installed ({exc}); reinstall mcpguard"
        ) from exc
    try:
        configured = keyring.core.load_env() or keyring.core.load_config()
    except Exception as exc:  # a configured backend that cannot load: refuse with keyring's reason
        raise SecretsUnavailable(
            f"mcpguard cannot keep secrets: the configured keyring backend cannot be used ({exc}); {install_hint()}"
        ) from exc
    if configured is not None:
        return configured
    if sys.platform.startswith("linux"):
        try:
            from keyring.backends import SecretService

            candidate = SecretService.Keyring()  # type: ignore[no-untyped-call]
            if float(candidate.priority) >= 1:  # raises when no Secret Service is running or activatable
                return candidate
        except Exception as exc:  # not usable here: let keyring's discovery decide
            log.info("the Secret Service is not usable directly (%s); asking keyring", exc)
    return keyring.get_keyring()


class KeyringStore:
    """Secrets in the OS keyring, their names in ``<profile>/secrets-index.json``.

    Args:
        folder: The profile directory (where the index lives).
        service: The keyring service name (tests may use their own).
        backend: A keyring backend object to use instead of keyring's choice (tests); it is checked
            like keyring's own choice.
    """

    is_system = True

    def __init__(self, folder: str | os.PathLike[str], *, service: str = SERVICE, backend: Any = None) -> None:
        self.folder = os.fspath(folder)
        self.service = service
        self._given = backend
        self._backend: Any = None
        self._quick_reads = backend is None

    # -- the backend, found on first use ----------------------------------------------------------

    def backend(self) -> Any:
        """The checked keyring backend (imports ``keyring`` the first time).

        Raises:
            SecretsUnavailable: No acceptable keyring.
        """
        if self._backend is None:
            if self._given is not None:
                found = self._given
            else:
                found = _system_backend()
            self._backend = choose(found)
            log.info("secrets are kept in %s", describe(self._backend))
        return self._backend

    @property
    def description(self) -> str:
        """The keyring's name (``Secret Service``...); finding it imports ``keyring``."""
        return describe(self.backend())

    def _call(self, what: str, op: Callable[[Any], Any]) -> Any:
        """Run ``op(backend)`` and turn every keyring failure into one sentence that says what to do."""
        backend = self.backend()
        from keyring.errors import InitError, KeyringError, KeyringLocked, NoKeyringError

        try:
            return op(backend)
        except KeyringLocked as exc:
            raise _locked(what) from exc
        except (NoKeyringError, InitError) as exc:
            raise SecretsUnavailable(
                f"the keyring could not be opened or unlocked, so mcpguard cannot {what} ({exc}); {install_hint()}"
            ) from exc
        except KeyringError as exc:
            raise SecretsUnavailable(f"the keyring refused to {what} ({exc})") from exc
        except Exception as exc:  # D-Bus / Keychain / Win32 errors of the backends below keyring
            raise SecretsUnavailable(
                f"the keyring failed while mcpguard tried to {what} ({type(exc).__name__}: {exc}); {install_hint()}"
            ) from exc

    # -- the SecretStore protocol -----------------------------------------------------------------

    def get(self, name: str) -> str | None:
        if self._quick_reads:
            try:
                return secret_service.read(self.service, name)
            except secret_service.Locked as exc:
                raise _locked("read a secret") from exc
            except secret_service.NotApplicable as exc:
                log.debug("reading through keyring: %s", exc)
                self._quick_reads = False
        value = self._call("read a secret", lambda kr: kr.get_password(self.service, name))
        return value if isinstance(value, str) else None

    def set(self, name: str, value: str) -> None:
        check_name(name)
        check_value(value)
        self._call("store a secret", lambda kr: kr.set_password(self.service, name, value))
        index.update(self.folder, add=[name])

    def delete(self, name: str) -> bool:
        from keyring.errors import PasswordDeleteError

        def op(kr: Any) -> bool:
            try:
                kr.delete_password(self.service, name)
            except PasswordDeleteError:
                return False
            return True

        deleted: bool = self._call("delete a secret", op)
        listed = name in index.read_names(self.folder)
        if listed:
            index.update(self.folder, remove=[name])
        return deleted or listed

    def names(self) -> list[str]:
        return index.read_names(self.folder)

    def setdefault(self, name: str, value: str) -> str:
        check_name(name)
        check_value(value)
        with index.IndexLock(self.folder):
            existing = self.get(name)
            if existing is not None:
                if name not in index.read_names(self.folder):
                    index.update_locked(self.folder, add=[name])
                return existing
            self._call("store a secret", lambda kr: kr.set_password(self.service, name, value))
            index.update_locked(self.folder, add=[name])
            return value


def _locked(what: str) -> SecretsUnavailable:
    return SecretsUnavailable(
        f"the keyring is locked, so mcpguard cannot {what}; unlock it and try again ({install_hint()})"
    )


def open_store(paths: AppPaths) -> KeyringStore:
    """The keyring store of a profile (what the CLI and the tray use; tests replace this function)."""
    return KeyringStore(os.fspath(paths.ensure().home))
