"""The HMAC key that protects the approval store and chains the tool-call log, kept in the keyring.

Hashes alone show that a row changed only to someone who trusts the hashes; anyone who can edit
``state.db`` can recompute them. A keyed MAC (HMAC-SHA-256 with this key) cannot be recomputed
without the key, and the key lives in the OS keyring rather than the profile, so a process that
rewrites the database file must also reach into the user's keyring to forge an approval or a log
row. The key is 32 random bytes from ``os.urandom``, created on first use and stored as hex text
(keyring entries are text) under :data:`INTEGRITY_KEY_NAME`.

Creation is atomic across processes (:meth:`SecretStore.setdefault` holds the profile's lock), so
two shims starting together never end up with two keys. A damaged key is an error, not a reason to
make a new one: a new key would make every existing approval and log row look forged, and silently
re-keying is exactly what an attacker who deleted the entry would want.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the shim's start-up path
if TYPE_CHECKING:
    from collections.abc import Callable

    from mcpguard.paths import AppPaths
    from mcpguard.secrets.base import SecretStore

INTEGRITY_KEY_NAME = "mcpguard/integrity-key"
KEY_BYTES = 32


def integrity_key(store: SecretStore) -> bytes:
    """The profile's 32-byte HMAC key, created in ``store`` the first time.

    Importing ``keyring`` and asking the Secret Service costs 100-200 ms: callers on the shim's
    start-up path should fetch it off the critical path (after the server is spawned) and cache it
    for the process.

    Raises:
        SecretsUnavailable: The keyring cannot be used (never a key kept anywhere else).
        SecretsError: The stored key is damaged; the message says how to start over.
    """
    stored = store.setdefault(INTEGRITY_KEY_NAME, os.urandom(KEY_BYTES).hex())
    try:
        key = bytes.fromhex(stored)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        from mcpguard.secrets.base import SecretsError

        raise SecretsError(
            f"the integrity key in the keyring ({INTEGRITY_KEY_NAME}) is damaged, so approvals and the log "
            "cannot be verified; delete that keyring entry to start over with a new key "
            "(every approval will then have to be given again)"
        )
    return key


def key_exists(folder: str) -> bool:
    """Whether the profile has an integrity key (its name is in the secrets index; no keyring is asked).

    Processes that only *use* the key (shims, ``pins list``, ``log verify``) look here first, so a
    profile without a keyring never pays for importing ``keyring``, and never gets a key by accident.
    """
    from mcpguard.secrets import index

    try:
        return INTEGRITY_KEY_NAME in index.read_names(folder)
    except Exception:  # a damaged index: the shim's secrets lookup reports it; here, no key
        return False


def existing_key(folder: str, store: SecretStore) -> bytes | None:
    """The profile's key when it exists and the keyring can give it; None otherwise (today's behaviour).

    Without a keyring (not installed, locked) mcpguard keeps working, unprotected: approvals read
    as they are and log rows chain with plain SHA-256. ``log verify`` says so.
    """
    if not key_exists(folder):
        return None
    from mcpguard.errors import McpGuardError

    try:
        return integrity_key(store)
    except McpGuardError:
        return None


def protect(paths: AppPaths, store: SecretStore | None = None) -> bytes:
    """Create the integrity key if the profile has none, signing the decisions made so far; the key.

    What ``mcpguard secrets protect`` does, and what the tray's first start and the first
    ``mcpguard secrets set`` / ``secrets migrate`` do on their own. ``store`` defaults to the
    profile's keyring (:func:`mcpguard.secrets.keyring_store.open_store`). Shims never call this:
    they only use a key that exists.

    Raises:
        SecretsUnavailable: The keyring cannot be used; nothing was created or signed.
        SecretsError: The stored key is damaged.
    """
    if store is None:
        from mcpguard.secrets import keyring_store

        store = keyring_store.open_store(paths)
    existed = key_exists(paths.root)
    key = integrity_key(store)
    if not existed:
        from mcpguard.pinning.store import Store

        db = Store.open(paths)
        try:
            db.sign_unsigned_decisions(key)
        finally:
            db.close()
    return key


class BackgroundKey:
    """The shim's lookup of the integrity key, on a thread of its own, started after the server.

    Reading the key from the Secret Service costs 100-200 ms (most of it importing ``keyring``);
    the shim starts it once the server runs and waits for it only where it is needed: the first
    time a pin is read and before the first log row is written.
    """

    def __init__(self, folder: str, store: Callable[[], SecretStore] | None = None, timeout: float = 10.0) -> None:
        import threading

        self.folder = folder
        self.timeout = timeout
        self._store = store
        self._key: bytes | None = None
        self._done = threading.Event()
        self._started = False
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the lookup (once); a profile without a key finishes at once, without ``keyring``."""
        with self._lock:
            if self._started:
                return
            self._started = True
        if not key_exists(self.folder):
            self._done.set()
            return
        import threading

        threading.Thread(target=self._look_up, name="integrity-key", daemon=True).start()

    def _look_up(self) -> None:
        try:
            if self._store is not None:
                store = self._store()
            else:
                from mcpguard.secrets.keyring_store import KeyringStore

                store = KeyringStore(self.folder)
            self._key = integrity_key(store)
        except Exception as exc:  # no keyring now: approvals and the log go unprotected, as without a key
            from mcpguard import logs

            logs.get(__name__).info("the integrity key cannot be read (%s); approvals are not verified", exc)
        finally:
            self._done.set()

    def wait(self) -> bytes | None:
        """The key, once looked up (starting the lookup if nobody did); None without one."""
        self.start()
        self._done.wait(self.timeout)
        return self._key
