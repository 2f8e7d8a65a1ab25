"""Allow ``python -m impsy``."""

from impsy.cli import main

raise SystemExit(main())
