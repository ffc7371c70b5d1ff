"""Entry point for ``python -m mcpguard``."""

from mcpguard.cli import main

raise SystemExit(main())
