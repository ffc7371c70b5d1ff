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
