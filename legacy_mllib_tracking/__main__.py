"""``python -m legacy_mllib_tracking``: the command line."""

from legacy_mllib_tracking.cli import main

raise SystemExit(main())
