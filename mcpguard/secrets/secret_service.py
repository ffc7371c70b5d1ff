"""One secret read straight from the Secret Service (Linux), for the start of a bridge or a shim.

Every ``mcpguard remote`` reads its sign-in from the keyring before it can answer the client's
``initialize``, every time the client starts it. Importing the ``keyring`` library costs about
40 ms more than importing ``secretstorage``, the library keyring's own Secret Service backend
reads through (its configuration and entry-point machinery: ``jaraco.*``, ``importlib_metadata``,
``configparser``). That was the largest part of a cached-token start that could be cut
(docs/remote.md, Performance).

So when the user has not configured keyring at all (no ``PYTHON_KEYRING_BACKEND``, no
``KEYRING_PROPERTY_*``, no ``keyringrc.cfg``), a read on Linux first asks libsecret
(:mod:`mcpguard.secrets.libsecret`, some 40 ms less again), and when that finds nothing or cannot
be used, asks the Secret Service the way keyring's backend does: the default collection, the items
whose ``service`` and ``username`` attributes match, the first one's secret over an encrypted
session. That is the backend :func:`~mcpguard.secrets.keyring_store._system_backend` chooses in
that case, and the items keyring writes. Anything else (a configuration, no session bus, no
service, no default collection, an unexpected reply) is :class:`NotApplicable`, and keyring
answers as before. Writes and deletes always go through keyring.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

from mcpguard.secrets import libsecret

log = logging.getLogger(__name__)


class NotApplicable(Exception):
    """This read is keyring's to answer; the message says why, for the debug log."""


class Locked(Exception):
    """The collection or the item stayed locked (the user dismissed the unlock prompt, or there is none)."""


def keyring_configured(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the user configured keyring, in any of the places keyring 25 reads on Linux."""
    env = os.environ if environ is None else environ
    if "PYTHON_KEYRING_BACKEND" in env or any("KEYRING_PROPERTY_" in key for key in env):
        return True
    root = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.exists(os.path.join(root, "python_keyring", "keyringrc.cfg"))


def read(service: str, username: str) -> str | None:
    """The secret stored by keyring under ``service``/``username``, None when there is none.

    A locked collection or item is unlocked the way keyring does it (the Secret Service's own
    prompt), so the user sees the same thing either way.

    Raises:
        NotApplicable: keyring must answer this read.
        Locked: the keyring stayed locked.
    """
    if not sys.platform.startswith("linux") or keyring_configured():
        raise NotApplicable("not Linux, or keyring is configured")
    try:
        found = libsecret.lookup({"username": username, "service": service})
    except libsecret.Unavailable as exc:
        log.debug("libsecret cannot read %s: %s", username, exc)
    else:
        if found is not None:
            return found
    try:
        import secretstorage
        from secretstorage.exceptions import ItemNotFoundException, SecretStorageException
    except ImportError as exc:
        raise NotApplicable(f"secretstorage cannot be imported ({exc})") from exc
    try:
        connection = secretstorage.dbus_init()
    except SecretStorageException as exc:
        raise NotApplicable(f"no session bus ({exc})") from exc
    try:
        try:
            collection = secretstorage.Collection(connection)  # the "default" alias; never created here
        except ItemNotFoundException as exc:
            raise NotApplicable("the Secret Service has no default collection") from exc
        if collection.is_locked() and (collection.unlock() or collection.is_locked()):
            raise Locked("the default collection is locked")
        for item in collection.search_items({"username": username, "service": service}):
            if item.is_locked() and (item.unlock() or item.is_locked()):
                raise Locked("the item is locked")
            return item.get_secret().decode("utf-8")
        return None
    except (Locked, NotApplicable):
        raise
    except Exception as exc:  # D-Bus errors of every kind: keyring's path reports them in its own words
        raise NotApplicable(f"the Secret Service failed ({type(exc).__name__}: {exc})") from exc
    finally:
        connection.close()
