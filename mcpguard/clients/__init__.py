"""Guard the AI clients: find their MCP configs, wrap and unwrap server entries, watch for changes.

Qt-free. Modules, in the order data flows through them:

- ``table``: the known clients as data (where each keeps its config, in which format, how entries look);
- ``discovery``: read every config that exists into :class:`~mcpguard.clients.discovery.ServerEntry` records;
- ``entries``: pure rules for one entry (remote or local, wrapped or not, what wrapping writes);
- ``risk``: flags for commands worth a second look before consenting to run them;
- ``jsonc`` / ``formats``: edit one entry of a JSON(C), YAML or TOML file and nothing else;
- ``rewrite``: backup, atomic write, verify, and no lost updates when a client rewrites the file;
- ``records``: what each wrap replaced (``wraps.json``), so unwrap gives back the very bytes;
- ``operations``: plans (with diffs) and their application;
- ``report``: the text and JSON forms of ``mcpguard clients``, ``wrap`` and ``unwrap``;
- ``watch``: watchdog on the configs' directories, and the comparison of two snapshots.
"""
