"""A secret looked up through libsecret, the Secret Service's own C client library, with ctypes.

Why: a bridge reads its cached sign-in before it can answer the client's ``initialize``, and in
Python that read costs about 50 ms of imports alone (secretstorage, jeepney, and cryptography's
OpenSSL backend, which secretstorage loads for the encrypted session). libsecret is already on
nearly every Linux desktop (GNOME, and most programs that keep passwords, depend on it); loading it
and doing the same lookup, Diffie-Hellman session included, takes about 13 ms here.

Only the found case is answered here. libsecret's lookup says "nothing" both for a missing item and
for a collection that stayed locked, so anything but a value (nothing, an error, no library, no
session bus) is left to the Python path in :mod:`mcpguard.secrets.secret_service`, which tells those
apart.

The lookup matches the attributes only (``SECRET_SCHEMA_DONT_MATCH_NAME``): the items keyring
writes through secretstorage carry no ``xdg:schema`` attribute.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

LIBRARY = "libsecret-1.so.0"
GLIB = "libglib-2.0.so.0"
_DONT_MATCH_NAME = 1 << 1
"""``SECRET_SCHEMA_DONT_MATCH_NAME``."""
_STRING = 0
"""``SECRET_SCHEMA_ATTRIBUTE_STRING``."""


class Unavailable(Exception):
    """libsecret cannot answer here (not installed, no session bus, or it reported an error)."""


class _Attribute(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("type", ctypes.c_int)]


class _Schema(ctypes.Structure):
    """``SecretSchema`` of libsecret 0.18 and later, its private padding included."""

    _fields_ = [
        ("name", ctypes.c_char_p),
        ("flags", ctypes.c_int),
        ("attributes", _Attribute * 32),
        ("reserved", ctypes.c_int),
        *((f"reserved{i}", ctypes.c_void_p) for i in range(1, 8)),
    ]


class _GError(ctypes.Structure):
    _fields_ = [("domain", ctypes.c_uint32), ("code", ctypes.c_int), ("message", ctypes.c_char_p)]


def lookup(attributes: Mapping[str, str], environ: Mapping[str, str] | None = None) -> str | None:
    """The secret of the first item whose attributes match, None when libsecret found none.

    A locked collection is unlocked the way libsecret does it (the Secret Service's prompt).

    Raises:
        Unavailable: libsecret is not installed, there is no session bus address (GLib would then
            try to start a bus of its own), or the lookup reported an error.
    """
    env = os.environ if environ is None else environ
    if not env.get("DBUS_SESSION_BUS_ADDRESS"):
        raise Unavailable("no session bus address")
    if not 0 < len(attributes) <= 32:
        raise ValueError("a lookup needs 1 to 32 attributes")
    find, free, error_free = _functions(LIBRARY)
    schema = _Schema()
    schema.name = b"org.freedesktop.Secret.Generic"
    schema.flags = _DONT_MATCH_NAME
    pairs: list[bytes] = []
    for i, (name, value) in enumerate(attributes.items()):
        schema.attributes[i] = _Attribute(name.encode(), _STRING)
        pairs += [name.encode(), value.encode()]
    error = ctypes.POINTER(_GError)()
    variadic = [ctypes.c_char_p(p) for p in pairs] + [ctypes.c_char_p(None)]
    found = find(ctypes.byref(schema), None, ctypes.byref(error), *variadic)
    if error:
        message = (error.contents.message or b"").decode("utf-8", "replace")
        error_free(error)
        if found:
            free(found)
        raise Unavailable(f"libsecret failed ({message})")
    if not found:
        return None
    try:
        return ctypes.string_at(found).decode("utf-8")
    finally:
        free(found)  # libsecret wipes the memory before freeing it


@cache
def _functions(library: str) -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
    """libsecret's lookup and free, and GLib's ``g_error_free``, typed once per process."""
    try:
        lib = ctypes.CDLL(library)
        glib = ctypes.CDLL(GLIB)
    except OSError as exc:
        raise Unavailable(f"libsecret cannot be loaded ({exc})") from exc
    find = lib.secret_password_lookup_sync
    find.argtypes = [ctypes.POINTER(_Schema), ctypes.c_void_p, ctypes.POINTER(ctypes.POINTER(_GError))]
    find.restype = ctypes.c_void_p
    free = lib.secret_password_free
    free.argtypes = [ctypes.c_void_p]
    free.restype = None
    error_free = glib.g_error_free
    error_free.argtypes = [ctypes.POINTER(_GError)]
    error_free.restype = None
    return find, free, error_free
