"""Secrets: the OS keyring instead of plaintext configs, a minimal environment for servers, redaction.

Qt-free, and light on purpose: the shim imports pieces of this package on its start-up path, so no
module here imports ``keyring`` at module level (ruff TID253), and the modules the shim needs when a
server has *no* secrets (:mod:`.names`, :mod:`.index`, :mod:`.environment`, :mod:`.inject`) import only
``os``, ``sys`` and ``json``. The errors are drawn in :mod:`.base`.

- ``base``: the :class:`~.base.SecretStore` protocol and the errors;
- ``names``: secret names (``SERVER/VAR``) and what a name and a value may hold;
- ``keyring_store``: the OS keyring through ``keyring`` (imported when a secret is touched), with an
  index of secret *names* in the profile, since keyring cannot list its entries;
- ``memory``: an in-memory store for tests;
- ``index``: that index file (``secrets-index.json``, 0600, written atomically under a lock);
- ``detect``: plaintext secrets in a config entry, by variable name and by value shape;
- ``redact``: a :class:`~.redact.Redactor` that scrubs known values and secret shapes from text and JSON;
- ``environment``: the minimal environment a server is started with;
- ``inject``: what the shim calls at launch (secrets for one server, then the environment);
- ``migrate``: ``mcpguard secrets migrate`` (plaintext in client configs -> keyring), backups scrubbed;
- ``config_edit``: removing variables from an entry's ``env`` block in JSON(C), YAML and TOML;
- ``integrity``: the HMAC key for the approval store and the log chain, kept in the keyring.
"""
